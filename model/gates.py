"""Promotion gates of SPEC §5 as plain data and one function that evaluates them."""

from __future__ import annotations

import math

from pydantic import BaseModel

from model.config import GateConfig


class GateResult(BaseModel):
    name: str
    value: float
    threshold: str
    passed: bool


class GateVerdict(BaseModel):
    """All gates of one run plus the numbers they were computed from."""

    gates: list[GateResult]
    metrics: dict[str, float]

    @property
    def passed(self) -> bool:
        return all(gate.passed for gate in self.gates)

    def failing(self) -> list[str]:
        return [f"{g.name}={g.value:.4f} (needs {g.threshold})" for g in self.gates if not g.passed]


def _ok(value: float, condition: bool) -> bool:
    return math.isfinite(value) and condition


def evaluate_gates(metrics: dict[str, float], gates: GateConfig) -> list[GateResult]:
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
        GateResult(name=name, value=value, threshold=threshold, passed=_ok(value, condition))
        for name, value, threshold, condition in checks
    ]
