"""The suite of bench/structure.py: the generated SCMs it runs (each with its true DAG; linear-label SCMs and,
named `-xlabel-<term>`, SCMs whose label has a term no linear reader of its causes can represent), the ablations
it can run instead of the full model, and the configuration each run trains with."""

from __future__ import annotations

from typing import Any

from model.config import ExperimentConfig, ModelConfig, SyntheticDataConfig, TrainConfig

COHORTS = ["lung", "colon", "breast", "skin"]

# The suite. Seeds are not the ones the structure learner's defaults were chosen on (docs/science.md). The first
# seven SCMs (seeds 101-107) have a label whose logit is linear in its causes, where logistic regression on them
# is already the best reader: `label_nonlinearity="none"` keeps them the data they were before issue 21. The
# `-xlabel-<term>` SCMs (seeds 108+) add a term of the causes no linear reader can represent (model/data/generator.py:
# label_nonlinear_term), at the generator's default strength (twice label_strength).
SUITE: dict[str, SyntheticDataConfig] = {
    "er20-nonlinear-3c": SyntheticDataConfig(
        n_samples=1500, n_genes=16, edge_probability=0.2, label_nonlinearity="none", seed=101
    ),
    "sf34-nonlinear-3c": SyntheticDataConfig(
        n_samples=2000,
        n_genes=30,
        graph="scale_free",
        edge_probability=0.15,
        label_strength=2.5,
        label_nonlinearity="none",
        seed=102,
    ),
    "er28-linear-3c": SyntheticDataConfig(
        n_samples=2000,
        n_genes=24,
        edge_probability=0.15,
        mechanism="linear",
        label_nonlinearity="none",
        seed=103,
    ),
    "er24-nonlinear-2c": SyntheticDataConfig(
        n_samples=1500,
        n_genes=20,
        edge_probability=0.25,
        groups=["lung", "breast"],
        label_strength=3.5,
        label_nonlinearity="none",
        seed=104,
    ),
    "sf50-nonlinear-4c": SyntheticDataConfig(
        n_samples=2500,
        n_genes=45,
        graph="scale_free",
        edge_probability=0.08,
        n_biomarkers=5,
        groups=COHORTS,
        flip_group="skin",
        label_nonlinearity="none",
        seed=105,
    ),
    "er70-linear-4c": SyntheticDataConfig(
        n_samples=3000,
        n_genes=65,
        edge_probability=0.05,
        mechanism="linear",
        n_biomarkers=5,
        groups=COHORTS,
        flip_group="colon",
        label_strength=2.5,
        label_nonlinearity="none",
        seed=106,
    ),
    "er100-nonlinear-3c": SyntheticDataConfig(
        n_samples=3000, n_genes=95, edge_probability=0.04, n_biomarkers=5, label_nonlinearity="none", seed=107
    ),
    "er22-nonlinear-3c-xlabel-interaction": SyntheticDataConfig(
        n_samples=2000, n_genes=18, edge_probability=0.2, label_nonlinearity="interaction", seed=108
    ),
    "sf32-linear-3c-xlabel-sine": SyntheticDataConfig(
        n_samples=2500,
        n_genes=28,
        graph="scale_free",
        edge_probability=0.15,
        mechanism="linear",
        label_nonlinearity="sine",
        seed=109,
    ),
    "er45-nonlinear-4c-xlabel-abs": SyntheticDataConfig(
        n_samples=3000,
        n_genes=40,
        edge_probability=0.08,
        n_biomarkers=5,
        groups=COHORTS,
        flip_group="skin",
        label_nonlinearity="abs",
        seed=110,
    ),
    "sf28-nonlinear-2c-xlabel-interaction": SyntheticDataConfig(
        n_samples=1500,
        n_genes=24,
        graph="scale_free",
        edge_probability=0.2,
        groups=["lung", "breast"],
        label_nonlinearity="interaction",
        seed=111,
    ),
}

ABLATIONS = {
    "task_gradient": "the task loss also writes into the lattice (predictor phase, through message passing)",
    "no_label_node": "the label is not a lattice node: the prediction reads every feature",
    "no_invariance": "no V-REx term (train.invariance = 0)",
    "no_acyclicity": "no augmented-Lagrangian acyclicity schedule and no final cycle breaking",
    "readout_only": "the head's logits zeroed (its bias kept): the prediction is the linear readout of the "
    "readable features",
    "head_only": "no linear readout: the prediction is the head on z alone",
    "label_parents": "the prediction reads the label's lattice parents only, not all its non-descendants",
}


def configure(
    ablation: str | None, epochs: int | None, seed: int | None = None
) -> tuple[ModelConfig, TrainConfig]:
    """The seed configuration (ExperimentConfig's defaults), with an ablation, an epoch or a seed override applied."""
    experiment = ExperimentConfig()
    model, train = experiment.model, experiment.train
    if ablation == "task_gradient":
        train = train.model_copy(
            update={"structure": train.structure.model_copy(update={"task_gradient": True})}
        )
    elif ablation == "no_label_node":
        model = model.model_copy(update={"label_node": False})
    elif ablation == "no_invariance":
        train = train.model_copy(update={"invariance": 0.0})
    elif ablation in ("readout_only", "head_only"):
        model = model.model_copy(update={"prediction": ablation})
    elif ablation == "label_parents":
        model = model.model_copy(update={"reads": "label_parents"})
    elif ablation == "no_acyclicity":
        train = train.model_copy(
            update={"structure": train.structure.model_copy(update={"acyclicity": False})}
        )
    if epochs is not None:
        train = train.model_copy(update={"epochs": epochs})
    if seed is not None:
        train = train.model_copy(update={"seed": seed})
    return model, train


# Keys SyntheticDataConfig gained after earlier records were made, each with the value that draws the data those
# records were made on (issue 21's label term did not exist: no term).
DATA_KEYS_ADDED = {"label_nonlinearity": "none", "label_nonlinear_strength": None}


def record_data(data: dict[str, Any]) -> dict[str, Any]:
    """A record's `data` (SyntheticDataConfig dumped) with the keys it predates filled in as they were then, so
    that records of any age compare equal exactly when they were made on the same data."""
    return {**DATA_KEYS_ADDED, **data}
