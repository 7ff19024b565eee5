"""The pure promotion decision (docs/design.md §5) and its round trip through model-version tags."""

from __future__ import annotations

import math

import pytest

from model.artifacts import PromotionGate
from model.config import GateConfig
from model.gates.decision import (
    accuracy_from_tag,
    decide_promotion,
    gate_tags,
    gates_from_tags,
    promotion_table,
)
from model.gates.promotion import evaluate_promotion_gates


def gates(passing: bool = True) -> list[PromotionGate]:
    metrics = {
        "accuracy_std": 0.01,
        "subset_accuracy_gap": 0.02,
        "flops_reduction": 0.30 if passing else 0.10,
        "routed_accuracy": 0.80,
        "dense_accuracy": 0.80,
    }
    return evaluate_promotion_gates(metrics, GateConfig())


def test_first_model_passing_every_gate_becomes_champion() -> None:
    decision = decide_promotion(gates(), 0.8, None)
    assert decision.promote and "no champion yet" in decision.reasons[0]


def test_failing_gate_never_promotes_even_when_more_accurate() -> None:
    decision = decide_promotion(gates(passing=False), 0.99, 0.5)
    assert not decision.promote
    assert decision.failing_gates == ["flops_reduction"]
    assert any("flops_reduction=0.1000 (needs >= 0.27)" in reason for reason in decision.reasons)


def test_failing_gate_without_champion_does_not_promote() -> None:
    assert not decide_promotion(gates(passing=False), 0.9, None).promote


@pytest.mark.parametrize(
    ("challenger", "champion", "promote"),
    [(0.80, 0.80, True), (0.81, 0.80, True), (0.79, 0.80, False)],
)
def test_challenger_must_be_at_least_as_good(challenger: float, champion: float, promote: bool) -> None:
    decision = decide_promotion(gates(), challenger, champion)
    assert decision.promote is promote
    if not promote:
        assert "below the champion's 0.8000" in decision.reasons[0]


def test_champion_that_cannot_be_evaluated_blocks_promotion() -> None:
    decision = decide_promotion(gates(), 0.9, float("nan"), "it needs feature columns ['x']")
    assert not decision.promote
    assert "could not be evaluated" in decision.reasons[0] and "['x']" in decision.reasons[0]


def test_nan_challenger_accuracy_or_no_gates_never_promote() -> None:
    assert not decide_promotion(gates(), float("nan"), None).promote
    assert not decide_promotion([], 0.9, None).promote


def test_gate_with_nan_value_fails() -> None:
    metrics = {
        "accuracy_std": float("nan"),
        "subset_accuracy_gap": 0.0,
        "flops_reduction": 0.5,
        "routed_accuracy": 0.8,
        "dense_accuracy": 0.8,
    }
    decision = decide_promotion(evaluate_promotion_gates(metrics, GateConfig()), 0.9, None)
    assert not decision.promote and decision.failing_gates == ["seed_accuracy_std"]


def test_gate_tags_round_trip_keeps_order_values_and_verdicts() -> None:
    original = gates(passing=False)
    restored = gates_from_tags(gate_tags(original))
    assert [g.name for g in restored] == [g.name for g in original]
    for a, b in zip(original, restored, strict=True):
        assert a.passed == b.passed and a.threshold == b.threshold and math.isclose(a.value, b.value)


def test_malformed_gate_tag_counts_as_failed() -> None:
    tags = gate_tags(gates())
    tags["gate.flops_reduction.value"] = "oops"
    restored = {g.name: g for g in gates_from_tags(tags)}
    assert not restored["flops_reduction"].passed


def test_accuracy_tags() -> None:
    assert accuracy_from_tag({}, "a") is None
    assert accuracy_from_tag({"a": ""}, "a") is None
    assert accuracy_from_tag({"a": "0.75"}, "a") == 0.75
    assert math.isnan(accuracy_from_tag({"a": "x"}, "a") or 0.0)


def test_promotion_table_names_models_accuracies_and_decision() -> None:
    decision = decide_promotion(gates(), 0.8, 0.75)
    table = promotion_table(gates(), "version 3", 0.8, "version 2", 0.75, decision)
    assert "| champion | version 2 | 0.7500 |" in table
    assert "| challenger | version 3 | 0.8000 |" in table
    assert "| flops_reduction | 0.3000 | >= 0.27 | PASS |" in table
    assert "**Decision: promote the challenger to champion**" in table
