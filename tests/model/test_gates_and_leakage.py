"""Promotion gates that do not apply, the leakage and perfect-accuracy gates, their trip through model-version
tags, and the t-SNE guard of Exp-2."""

from __future__ import annotations

import numpy as np
import pytest

from model.artifacts import PromotionVerdict
from model.config import GateConfig
from model.data.tables import Dataset
from model.evaluation.latent_check import tsne_problem
from model.gates.decision import decide_promotion, gate_tags, gates_from_tags
from model.gates.leakage import integrity_gates, leaking_features
from model.gates.promotion import evaluate_promotion_gates, gate_table

MEASURED = {
    "accuracy_std": 0.01,
    "subset_accuracy_gap": float("nan"),
    "flops_reduction": 0.4,
    "routed_accuracy": 0.9,
    "dense_accuracy": 0.9,
}


def _dataset(extra: dict[str, np.ndarray], n: int = 120, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    groups = np.array(["lung", "colon", "breast"])[rng.integers(0, 3, n)]
    columns = {"gene": rng.normal(size=n), "noisy_proxy": labels + rng.normal(size=n) * 0.3}
    columns |= {name: make(labels, groups) for name, make in extra.items()}
    return Dataset(
        features=np.stack(list(columns.values()), axis=1).astype(np.float32),
        feature_names=list(columns),
        labels=labels,
        class_names=["0", "1"],
        groups=groups,
    )


def test_copies_and_recodings_of_the_label_or_group_are_found_and_nothing_else() -> None:
    dataset = _dataset(
        {
            "response": lambda y, g: y.astype(float),
            "response_code": lambda y, g: y * 2.0 + 5.0,
            "cohort_code": lambda y, g: (g == "colon") * 1.0 + (g == "breast") * 2.0,
            "mostly_label": lambda y, g: np.where(np.arange(len(y)) == 0, 1 - y, y).astype(float),
        }
    )
    found = {(leak.feature, leak.target, leak.kind) for leak in leaking_features(dataset)}
    assert found == {
        ("response", "label", "copy"),
        ("response_code", "label", "one-to-one recoding"),
        ("cohort_code", "group", "one-to-one recoding"),
    }


def test_the_leakage_gate_fails_and_names_the_feature() -> None:
    dataset = _dataset({"response": lambda y, g: y.astype(float)})
    leakage, perfect = integrity_gates(dataset, test_accuracy=1.0, baseline_accuracy=1.0, margin=0.05)
    assert leakage.blocks and leakage.value == 1.0
    assert "feature 'response' is a copy of the label" in leakage.reason
    assert perfect.passed  # logistic regression reaches 1.000 too: an easy task, the leak gate says why
    clean = integrity_gates(_dataset({}), test_accuracy=0.8, baseline_accuracy=0.7, margin=0.05)
    assert all(gate.passed for gate in clean)


@pytest.mark.parametrize(
    ("accuracy", "baseline", "passes"), [(1.0, 0.8, False), (1.0, 0.97, True), (0.99, 0.6, True)]
)
def test_a_perfect_accuracy_far_above_the_baseline_fails(
    accuracy: float, baseline: float, passes: bool
) -> None:
    _, perfect = integrity_gates(_dataset({}), accuracy, baseline, margin=0.05)
    assert perfect.passed is passes
    if not passes:
        assert "1.000" in perfect.reason and "0.800" in perfect.reason


def test_without_a_label_the_accuracy_gates_are_not_applicable() -> None:
    dataset = Dataset(features=np.zeros((10, 2), np.float32), feature_names=["a", "b"])
    leakage, perfect = integrity_gates(dataset, None, None, 0.05)
    assert not leakage.applicable and not perfect.applicable
    assert "no label" in perfect.reason


def test_a_gate_the_data_cannot_have_is_reported_not_passed() -> None:
    gates = evaluate_promotion_gates(
        MEASURED, GateConfig(), {"subset_accuracy_gap": "evaluation.subsets names 0 cohort(s)"}
    )
    gap = next(g for g in gates if g.name == "subset_accuracy_gap")
    assert (gap.applicable, gap.passed, gap.value, gap.verdict) == (False, False, None, "N/A")
    row = next(line for line in gate_table(gates) if line.startswith("| subset_accuracy_gap"))
    assert "| N/A |" in row and "0 cohort(s)" in row
    decision = decide_promotion(gates, 0.9, None)
    assert decision.promote
    assert any("not applicable: subset_accuracy_gap" in reason for reason in decision.reasons)
    # Unmeasured without a stated reason is a failure, never a pass.
    unexplained = evaluate_promotion_gates(MEASURED, GateConfig())
    assert not decide_promotion(unexplained, 0.9, None).promote


def test_the_verdict_survives_json_without_a_gap() -> None:
    """The artifact round trip that crashed at promote ("2 validation errors") with a NaN gap."""
    gates = evaluate_promotion_gates(MEASURED, GateConfig(), {"subset_accuracy_gap": "no cohorts"})
    verdict = PromotionVerdict(gates=gates, metrics={"subset_accuracy_gap": None, "accuracy_std": 0.01})
    assert PromotionVerdict.model_validate_json(verdict.model_dump_json()) == verdict


def test_gate_tags_keep_applicability_and_reasons() -> None:
    gates = evaluate_promotion_gates(MEASURED, GateConfig(), {"subset_accuracy_gap": "no cohorts"})
    gates += integrity_gates(_dataset({"response": lambda y, g: y.astype(float)}), 1.0, 1.0, 0.05)
    back = gates_from_tags(gate_tags(gates))
    assert [(g.name, g.applicable, g.passed, g.reason) for g in back] == [
        (g.name, g.applicable, g.passed, g.reason) for g in gates
    ]
    assert decide_promotion(back, 1.0, None).failing_gates == ["feature_leakage"]
    # Tags written before applicability existed: a gate without a value fails.
    old = {
        "gates": "seed_accuracy_std",
        "gate.seed_accuracy_std.value": "nan",
        "gate.seed_accuracy_std.passed": "true",
    }
    (gate,) = gates_from_tags(old)
    assert gate.applicable and gate.blocks


def test_tsne_is_refused_where_it_would_crash_the_process() -> None:
    assert "same z" in (tsne_problem(np.ones((50, 8))) or "")
    assert "non-finite" in (tsne_problem(np.full((50, 8), np.nan)) or "")
    assert tsne_problem(np.random.default_rng(0).normal(size=(50, 8))) is None
    assert tsne_problem(np.repeat(np.eye(2, 8), 25, axis=0)) is None  # two distinct points: t-SNE copes


def test_exp2_on_constant_features_skips_the_tsne_figure_with_its_reason() -> None:
    """All-constant features give every sample the same z; t-SNE there used to end the process (SIGSEGV)."""
    import json

    import torch

    from model.config import ModelConfig
    from model.evaluation.latent_check import check_latent
    from model.nn.transformer import CausalLatticeTransformer

    n, names = 40, ["a", "b", "c", "d"]
    data = Dataset(
        features=np.zeros((n, 4), np.float32),
        feature_names=names,
        labels=np.arange(n) % 2,
        class_names=["x", "y"],
    )
    model = CausalLatticeTransformer(names, 2, ModelConfig(d_model=16, n_heads=2, n_blocks=2, d_latent=8), 1)
    model.refresh_lattice()
    model.eval()
    with torch.no_grad():
        outcome = check_latent(model, data, perplexity=10, seed=0)
    stats = json.loads(outcome.files["latent/z_stat.json"])
    assert "same z" in stats["tsne_skipped"] and outcome.metrics["tsne_skipped"] == stats["tsne_skipped"]
    assert outcome.files["latent/z_tsne.png"].startswith(b"\x89PNG")
