"""The model card: the registered version's description, from the run's numbers."""

from __future__ import annotations

from model.config import ExperimentConfig
from model.gates.decision import PromotionDecision
from model.gates.promotion import evaluate_promotion_gates
from model.report.model_card import MAX_CHARS, render_model_card
from model.report.summary import DataFacts
from registry.promotion import describe
from tests.model.test_report import GATE_INPUTS, METRICS

DATA = DataFacts(name="synthetic_pancancer", rows=1500, features=20, fingerprint="6a6ea820b2faed65")


def test_card_holds_data_profile_metrics_with_references_gates_reading_and_lattice() -> None:
    config = ExperimentConfig()
    metrics = {**METRICS, "lattice": {**METRICS["lattice"], "threshold": 0.5, "shd": 4, "edge_precision": 0.75,
                                      "edge_recall": 0.6, "edge_auroc": 0.81}}  # fmt: skip
    card = render_model_card(
        "run-7", config, DATA, metrics, evaluate_promotion_gates(GATE_INPUTS, config.gates)
    )
    for text in (
        "`run-7`",
        "1500 rows × 20 features, fingerprint `6a6ea820b2faed65`",
        "configuration profile: **seed**",
        "| Exp-1 attention KL to the causal prior | 0.400 | 0.021 |",
        "| Exp-2 silhouette of z | 0.600 | 0.71 |",
        "| Exp-3 lattice degree variance | 0.200 | 0.18 |",
        "| Exp-4 FLOPs reduction | 30.0% | >= 27% |",
        "| seed_accuracy_std | 0.0100 | < 0.015 | PASS |",
        "reads 2 features, the label's non-descendants in the learned lattice: `g1`, `g2`",
        "the label's parents: `g1`; children (never read): `b1`",
        "3 edges between features",
        "SHD 4, precision 0.750, recall 0.600, edge AUROC 0.810",
    ):
        assert text in card, text


def test_without_truth_no_recovery_scores_and_long_lists_stay_within_mlflows_column() -> None:
    config = ExperimentConfig()
    names = [f"feature_{i:05d}" for i in range(5000)]
    lattice = {**METRICS["lattice"], "threshold": 0.5, "readable_features": names}
    lattice.pop("label_parent_recall")
    card = render_model_card("r", config, DATA, {**METRICS, "lattice": lattice}, [])
    assert "no true DAG known for this data" in card and "SHD" not in card
    assert "reads 5000 features" in card and "and 4976 more" in card
    assert len(card) <= MAX_CHARS
    decision = PromotionDecision(promote=False, reasons=["gate seed_accuracy_std failed"] * 400)
    description = describe(card, decision)
    assert description.startswith(card.rstrip()) and "**not promoted**: gate seed_accuracy_std" in description
    assert len(description) <= 5000
