"""Promotion gates of docs/design.md §5: whether a trained model may become the MLflow `champion`.

The one function that evaluates them from the run's numbers, and the not-applicable gate for data that cannot
have one; `gate_table` is their one Markdown rendering (the run summary and the promotion decision both print
it). A "gate" is only ever a promotion gate: the block router's per-sample decisions are routes
(`model/nn/block_router.py`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from model.artifacts import PromotionGate, format_value
from model.config import GateConfig
from model.markup import markdown_text


def _ok(value: float, condition: bool) -> bool:
    return math.isfinite(value) and condition


def _number(value: object) -> float | None:
    """A finite float, or None (JSON and the artifact store have no NaN)."""
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


def not_applicable(name: str, threshold: str, reason: str) -> PromotionGate:
    return PromotionGate(
        name=name, value=None, threshold=threshold, passed=False, applicable=False, reason=reason
    )


def evaluate_promotion_gates(
    metrics: dict[str, float | None], gates: GateConfig, not_applicable_reasons: dict[str, str] | None = None
) -> list[PromotionGate]:
    """metrics needs accuracy_std, subset_accuracy_gap, flops_reduction, routed_accuracy, dense_accuracy (None or
    NaN where not measured). A gate named in `not_applicable_reasons` is reported as not applicable with that
    reason; a missing measurement without a reason fails."""
    reasons = not_applicable_reasons or {}
    std, gap = _number(metrics.get("accuracy_std")), _number(metrics.get("subset_accuracy_gap"))
    reduction = _number(metrics.get("flops_reduction"))
    dense, gated = _number(metrics.get("dense_accuracy")), _number(metrics.get("routed_accuracy"))
    drop = None if dense is None or gated is None else dense - gated
    checks = [
        (
            "seed_accuracy_std",
            std,
            f"< {gates.max_seed_accuracy_std}",
            lambda v: v < gates.max_seed_accuracy_std,
        ),
        (
            "subset_accuracy_gap",
            gap,
            f"< {gates.max_subset_accuracy_gap}",
            lambda v: v < gates.max_subset_accuracy_gap,
        ),
        (
            "flops_reduction",
            reduction,
            f">= {gates.min_flops_reduction}",
            lambda v: v >= gates.min_flops_reduction,
        ),
        (
            "routed_accuracy_drop",
            drop,
            f"<= {gates.max_routed_accuracy_drop}",
            lambda v: v <= gates.max_routed_accuracy_drop,
        ),
    ]
    results = []
    for name, value, threshold, holds in checks:
        if name in reasons:
            results.append(not_applicable(name, threshold, reasons[name]))
        elif value is None:
            results.append(
                PromotionGate(name=name, value=None, threshold=threshold, passed=False, reason="not measured")
            )
        else:
            results.append(
                PromotionGate(name=name, value=value, threshold=threshold, passed=_ok(value, holds(value)))
            )
    return results


# The table's header and verdict words per language (the Japanese report keeps PASS/FAIL/N/A beside its words).
GATE_WORDS = {
    "en": ("| gate | value | threshold | verdict | note |", {"PASS": "PASS", "FAIL": "FAIL", "N/A": "N/A"}),
    "ja": (
        "| ゲート | 値 | 閾値 | 判定 | 備考 |",
        {"PASS": "PASS（合格）", "FAIL": "FAIL（不合格）", "N/A": "N/A（適用外）"},
    ),
}


def gate_table(gates: Sequence[PromotionGate], language: str = "en") -> list[str]:
    """The gates as Markdown table lines: gate, value, threshold, PASS/FAIL/N/A and why (in `language`: en or
    ja)."""
    header, verdicts = GATE_WORDS[language]
    return [
        header,
        "|---|---|---|---|---|",
        *[
            f"| {g.name} | {'n/a' if g.value is None else format_value(g.value)} | {g.threshold} "
            f"| {verdicts[g.verdict]} | {markdown_text(g.reason)} |"
            for g in gates
        ],
    ]
