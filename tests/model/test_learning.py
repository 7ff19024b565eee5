"""Tests that show learning, end to end through `train_model`: the prediction ignores an anti-causal feature it
was never told about, and the invariance term lowers the spread of the task risk across cohorts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from model.config import ModelConfig, SplitConfig, StructureConfig, SyntheticDataConfig, TrainConfig
from model.data.batching import group_codes
from model.data.generator import make_synthetic_pancancer
from model.data.splits import split_dataset
from model.data.tables import Dataset
from model.nn.transformer import CausalLatticeTransformer
from model.training.trainer import train_model

MODEL = ModelConfig(d_model=16, n_heads=2, n_blocks=2, d_latent=8)
STRUCTURE = StructureConfig(steps_per_round=100, min_rounds=4, max_rounds=15)


@pytest.fixture(scope="module")
def cohorts() -> Dataset:
    """Six genes (two cause the label) and two biomarkers caused by the label, one flipping sign in `breast`."""
    data = make_synthetic_pancancer(
        SyntheticDataConfig(
            n_samples=900, n_genes=6, n_biomarkers=2, n_causal_genes=2, label_nonlinearity="none", seed=5
        )
    )
    return split_dataset(data, SplitConfig()).train


def cohort_risks(model: CausalLatticeTransformer, data: Dataset) -> list[float]:
    codes, names = group_codes(data)
    with torch.no_grad():
        loss = F.cross_entropy(
            model(torch.from_numpy(data.features), dense=True).logits,
            torch.from_numpy(data.labels),
            reduction="none",
        )
    return [float(loss[torch.from_numpy(codes) == g].mean()) for g in range(len(names))]


def test_the_prediction_ignores_the_downstream_biomarkers(cohorts: Dataset) -> None:
    model = train_model(cohorts, MODEL, TrainConfig(epochs=3, lr=3e-3, structure=STRUCTURE), None, None).model
    assert model.readable_features() == [n for n in cohorts.feature_names if n.startswith("gene_")]
    x = torch.from_numpy(cohorts.features[:64].copy())
    moved = x.clone()
    for name in cohorts.label_children or []:
        moved[:, cohorts.feature_names.index(name)] *= -5.0
    with torch.no_grad():
        assert torch.equal(model(x, dense=True).logits, model(moved, dense=True).logits)


def test_the_invariance_term_lowers_the_cross_cohort_risk_spread(cohorts: Dataset) -> None:
    """Without the label in the lattice the prediction may read the flipping biomarker; V-REx on cohort-balanced
    batches then pulls the cohorts' risks together. Measured: variance 0.0023 without, 0.0013 with (before the
    linear readout 0.0034 and 0.0010; the readout's logistic start fits every cohort better at weight 0)."""
    spreads = {}
    for weight in (0.0, 10.0):
        config = TrainConfig(
            epochs=12,
            lr=3e-3,
            invariance=weight,
            invariance_warmup_epochs=0,
            invariance_ramp_epochs=1,
            structure=STRUCTURE.model_copy(update={"min_rounds": 1, "max_rounds": 2}),
        )
        model = train_model(cohorts, MODEL.model_copy(update={"label_node": False}), config, None, None).model
        spreads[weight] = float(np.var(cohort_risks(model, cohorts)))
    assert spreads[10.0] < 0.7 * spreads[0.0], spreads
