"""The suite of bench/structure.py: the generated SCMs it runs (each with its true DAG), the ablations it can
run instead of the full model, and the configuration each run trains with."""

from __future__ import annotations

from model.config import ExperimentConfig, ModelConfig, SyntheticDataConfig, TrainConfig

COHORTS = ["lung", "colon", "breast", "skin"]

# The suite. Seeds are not the ones the structure learner's defaults were chosen on (docs/science.md).
SUITE: dict[str, SyntheticDataConfig] = {
    "er20-nonlinear-3c": SyntheticDataConfig(n_samples=1500, n_genes=16, edge_probability=0.2, seed=101),
    "sf34-nonlinear-3c": SyntheticDataConfig(
        n_samples=2000, n_genes=30, graph="scale_free", edge_probability=0.15, label_strength=2.5, seed=102
    ),
    "er28-linear-3c": SyntheticDataConfig(
        n_samples=2000, n_genes=24, edge_probability=0.15, mechanism="linear", seed=103
    ),
    "er24-nonlinear-2c": SyntheticDataConfig(
        n_samples=1500,
        n_genes=20,
        edge_probability=0.25,
        groups=["lung", "breast"],
        label_strength=3.5,
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
        seed=106,
    ),
    "er100-nonlinear-3c": SyntheticDataConfig(
        n_samples=3000, n_genes=95, edge_probability=0.04, n_biomarkers=5, seed=107
    ),
}

ABLATIONS = {
    "task_gradient": "the task loss also writes into the lattice (predictor phase, through message passing)",
    "no_label_node": "the label is not a lattice node: the prediction reads every feature",
    "no_invariance": "no V-REx term (train.invariance = 0)",
    "no_acyclicity": "no augmented-Lagrangian acyclicity schedule and no final cycle breaking",
}


def configure(ablation: str | None, epochs: int | None) -> tuple[ModelConfig, TrainConfig]:
    """The seed configuration (ExperimentConfig's defaults), with an ablation or an epoch override applied."""
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
    elif ablation == "no_acyclicity":
        train = train.model_copy(
            update={"structure": train.structure.model_copy(update={"acyclicity": False})}
        )
    if epochs is not None:
        train = train.model_copy(update={"epochs": epochs})
    return model, train
