"""The promotion decision as a pure function, plus its round trip through model-version tags.

SPEC §5: a model that fails a gate is registered but never becomes `champion`; a challenger replaces the
champion only if it is at least as good on the same held-out data. No MLflow or ZenML here: data in, decision
out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from model.promotion_gates import PromotionGate, format_value, gate_table

GATE_TAG_PREFIX = "gate."
GATE_ORDER_TAG = "gates"
ACCURACY_CHALLENGER_TAG = "accuracy.challenger"
ACCURACY_CHAMPION_TAG = "accuracy.champion"
CHAMPION_VERSION_TAG = "champion.version"
DECISION_TAG = "promotion.decision"
REASONS_TAG = "promotion.reasons"


@dataclass(frozen=True)
class PromotionDecision:
    """Whether the challenger may become champion, and every reason that decided it."""

    promote: bool
    reasons: list[str] = field(default_factory=list)
    failing_gates: list[str] = field(default_factory=list)


def decide_promotion(
    gates: Sequence[PromotionGate],
    challenger_accuracy: float,
    champion_accuracy: float | None,
    champion_note: str | None = None,
) -> PromotionDecision:
    """Decide whether the challenger replaces the champion.

    `champion_accuracy` is the current champion's accuracy on the same held-out data as
    `challenger_accuracy`, None when there is no champion. A champion that exists but could not be evaluated
    on this data (give NaN and say why in `champion_note`) blocks promotion: "at least as good" cannot be
    shown.
    """
    reasons = [f"gate failed: {g.describe()}" for g in gates if not g.passed]
    if not gates:
        reasons.append("no gate results: nothing shows the model meets SPEC §5")
    if not math.isfinite(challenger_accuracy):
        reasons.append(f"challenger accuracy is not a number ({challenger_accuracy})")
    elif champion_accuracy is not None:
        if not math.isfinite(champion_accuracy):
            reasons.append(
                "the champion could not be evaluated on this held-out data"
                + (f" ({champion_note})" if champion_note else "")
            )
        elif challenger_accuracy < champion_accuracy:
            reasons.append(
                f"challenger accuracy {challenger_accuracy:.4f} is below the champion's "
                f"{champion_accuracy:.4f}"
            )
    if reasons:
        return PromotionDecision(
            promote=False, reasons=reasons, failing_gates=[g.name for g in gates if not g.passed]
        )
    if champion_accuracy is None:
        why = (
            f"every gate passed and there is no champion yet (challenger accuracy {challenger_accuracy:.4f})"
        )
    else:
        why = (
            f"every gate passed and challenger accuracy {challenger_accuracy:.4f} >= champion "
            f"{champion_accuracy:.4f}"
        )
    return PromotionDecision(promote=True, reasons=[why])


def gate_tags(gates: Sequence[PromotionGate]) -> dict[str, str]:
    """`gate.<name>.value|threshold|passed` tags for a model version."""
    tags: dict[str, str] = {GATE_ORDER_TAG: ",".join(gate.name for gate in gates)}
    for gate in gates:
        tags[f"{GATE_TAG_PREFIX}{gate.name}.value"] = repr(float(gate.value))
        tags[f"{GATE_TAG_PREFIX}{gate.name}.threshold"] = gate.threshold
        tags[f"{GATE_TAG_PREFIX}{gate.name}.passed"] = "true" if gate.passed else "false"
    return tags


def gates_from_tags(tags: Mapping[str, str]) -> list[PromotionGate]:
    """Inverse of `gate_tags`; a gate with a missing or malformed tag counts as failed."""
    found = {key[len(GATE_TAG_PREFIX) :].rsplit(".", 1)[0] for key in tags if key.startswith(GATE_TAG_PREFIX)}
    ordered = [name for name in tags.get(GATE_ORDER_TAG, "").split(",") if name in found]
    names = ordered + sorted(found - set(ordered))
    gates = []
    for name in names:
        raw_value = tags.get(f"{GATE_TAG_PREFIX}{name}.value", "nan")
        try:
            value = float(raw_value)
        except ValueError:
            value = float("nan")
        passed = tags.get(f"{GATE_TAG_PREFIX}{name}.passed") == "true" and math.isfinite(value)
        threshold = tags.get(f"{GATE_TAG_PREFIX}{name}.threshold", "?")
        gates.append(PromotionGate(name=name, value=value, threshold=threshold, passed=passed))
    return gates


def accuracy_from_tag(tags: Mapping[str, str], key: str) -> float | None:
    """A recorded accuracy: None when the tag is absent or empty (no champion), NaN when unreadable."""
    raw = tags.get(key, "")
    if raw in ("", "none"):
        return None
    try:
        return float(raw)
    except ValueError:
        return float("nan")


def _accuracy(value: float | None) -> str:
    return "—" if value is None else format_value(value)


def promotion_table(
    gates: Sequence[PromotionGate],
    challenger: str,
    challenger_accuracy: float,
    champion: str | None,
    champion_accuracy: float | None,
    decision: PromotionDecision,
) -> str:
    """The decision as Markdown: the gate table, champion vs challenger accuracy, the decision and why."""
    lines = [
        *gate_table(gates),
        "",
        "| held-out test accuracy | model | accuracy |",
        "|---|---|---|",
        f"| champion | {champion or 'none'} | {_accuracy(champion_accuracy)} |",
        f"| challenger | {challenger} | {_accuracy(challenger_accuracy)} |",
        "",
        f"**Decision: {'promote the challenger to champion' if decision.promote else 'keep the champion'}**",
        "",
        *[f"- {reason}" for reason in decision.reasons],
    ]
    return "\n".join(lines) + "\n"
