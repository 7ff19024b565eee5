"""Promotion gates of SPEC §5: whether a trained model may become the MLflow `champion`.

Plain data, the one function that evaluates them and their one Markdown rendering (the run summary and the
promotion decision both print `gate_table`). Not to be confused with the router gates of the meta-utility layer
(`model/meta_utility.py`), which switch blocks on and off per sample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel

from model.config import GateConfig


def format_value(value: float, digits: int = 4) -> str:
    """A measured number as the tables print it: `n/a` when it is not finite."""
    return f"{value:.{digits}f}" if math.isfinite(value) else "n/a"


class PromotionGate(BaseModel):
    """One gate: the measured value, its threshold as text (`< 0.015`) and whether it holds."""

    name: str
    value: float
    threshold: str
    passed: bool

    def describe(self) -> str:
        return f"{self.name}={format_value(self.value)} (needs {self.threshold})"


class PromotionVerdict(BaseModel):
    """All promotion gates of one run plus the numbers they were computed from."""

    gates: list[PromotionGate]
    metrics: dict[str, float]

    @property
    def passed(self) -> bool:
        return all(gate.passed for gate in self.gates)


def _ok(value: float, condition: bool) -> bool:
    return math.isfinite(value) and condition


def evaluate_promotion_gates(metrics: dict[str, float], gates: GateConfig) -> list[PromotionGate]:
    """metrics needs accuracy_std, subset_accuracy_gap, flops_reduction, gated_accuracy, dense_accuracy."""
    std = float(metrics["accuracy_std"])
    gap = float(metrics["subset_accuracy_gap"])
    reduction = float(metrics["flops_reduction"])
    drop = float(metrics["dense_accuracy"]) - float(metrics["gated_accuracy"])
    checks = [
        ("seed_accuracy_std", std, f"< {gates.max_seed_accuracy_std}", std < gates.max_seed_accuracy_std),
        (
            "subset_accuracy_gap",
            gap,
            f"< {gates.max_subset_accuracy_gap}",
            gap < gates.max_subset_accuracy_gap,
        ),
        (
            "flops_reduction",
            reduction,
            f">= {gates.min_flops_reduction}",
            reduction >= gates.min_flops_reduction,
        ),
        (
            "gated_accuracy_drop",
            drop,
            f"<= {gates.max_gated_accuracy_drop}",
            drop <= gates.max_gated_accuracy_drop,
        ),
    ]
    return [
        PromotionGate(name=name, value=value, threshold=threshold, passed=_ok(value, condition))
        for name, value, threshold, condition in checks
    ]


# The table's header and verdict words per language (the Japanese report keeps PASS/FAIL beside its words).
GATE_WORDS = {
    "en": ("| gate | value | threshold | verdict |", "PASS", "FAIL"),
    "ja": ("| ゲート | 値 | 閾値 | 判定 |", "PASS（合格）", "FAIL（不合格）"),
}


def gate_table(gates: Sequence[PromotionGate], language: str = "en") -> list[str]:
    """The gates as Markdown table lines: gate, value, threshold, PASS/FAIL (in `language`: en or ja)."""
    header, passed, failed = GATE_WORDS[language]
    return [
        header,
        "|---|---|---|---|",
        *[
            f"| {g.name} | {format_value(g.value)} | {g.threshold} | {passed if g.passed else failed} |"
            for g in gates
        ],
    ]
