"""The promotion decision as a pure function, plus its round trip through model-version tags.

docs/design.md §5: a model that fails a gate is registered but never becomes `champion`; a challenger replaces
the champion only if it is at least as good on the same held-out data. No MLflow or ZenML here: data in,
decision out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from model.artifacts import PromotionGate, format_value
from model.gates.promotion import gate_table
from model.markup import markdown_text

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
    reasons = [f"gate failed: {g.describe()}" for g in gates if g.blocks]
    notes = [f"gate not applicable: {g.name} ({g.reason})" for g in gates if not g.applicable]
    if gates and not any(g.applicable for g in gates):
        reasons.append("no gate applies to this data: nothing shows the model meets docs/design.md §5")
    if not gates:
        reasons.append("no gate results: nothing shows the model meets docs/design.md §5")
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
            promote=False, reasons=reasons + notes, failing_gates=[g.name for g in gates if g.blocks]
        )
    if champion_accuracy is None:
        why = f"every applicable gate passed and there is no champion yet (challenger accuracy {challenger_accuracy:.4f})"
    else:
        why = (
            f"every applicable gate passed and challenger accuracy {challenger_accuracy:.4f} >= champion "
            f"{champion_accuracy:.4f}"
        )
    return PromotionDecision(promote=True, reasons=[why, *notes])


def gate_tags(gates: Sequence[PromotionGate]) -> dict[str, str]:
    """`gate.<name>.value|threshold|passed|applicable|reason` tags for a model version."""
    tags: dict[str, str] = {GATE_ORDER_TAG: ",".join(gate.name for gate in gates)}
    for gate in gates:
        prefix = f"{GATE_TAG_PREFIX}{gate.name}"
        tags[f"{prefix}.value"] = "none" if gate.value is None else repr(float(gate.value))
        tags[f"{prefix}.threshold"] = gate.threshold
        tags[f"{prefix}.passed"] = "true" if gate.passed else "false"
        tags[f"{prefix}.applicable"] = "true" if gate.applicable else "false"
        if gate.reason:
            tags[f"{prefix}.reason"] = gate.reason[:4000]
    return tags


def gates_from_tags(tags: Mapping[str, str]) -> list[PromotionGate]:
    """Inverse of `gate_tags`; a gate with a missing or malformed tag counts as failed."""
    found = {key[len(GATE_TAG_PREFIX) :].rsplit(".", 1)[0] for key in tags if key.startswith(GATE_TAG_PREFIX)}
    ordered = [name for name in tags.get(GATE_ORDER_TAG, "").split(",") if name in found]
    names = ordered + sorted(found - set(ordered))
    gates = []
    for name in names:
        prefix = f"{GATE_TAG_PREFIX}{name}"
        raw_value = tags.get(f"{prefix}.value", "nan")
        value: float | None
        try:
            value = None if raw_value == "none" else float(raw_value)
        except ValueError:
            value = float("nan")
        # Only an explicit "false" makes a gate not applicable; a missing or malformed value fails it.
        applicable = tags.get(f"{prefix}.applicable") != "false"
        passed = (
            applicable
            and value is not None
            and math.isfinite(value)
            and tags.get(f"{prefix}.passed") == "true"
        )
        threshold = tags.get(f"{prefix}.threshold", "?")
        reason = tags.get(f"{prefix}.reason", "")
        if value is None and applicable:
            reason = reason or "no value recorded"
        gates.append(
            PromotionGate(
                name=name,
                value=value,
                threshold=threshold,
                passed=passed,
                applicable=applicable,
                reason=reason,
            )
        )
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
        *[f"- {markdown_text(reason)}" for reason in decision.reasons],
    ]
    return "\n".join(lines) + "\n"
