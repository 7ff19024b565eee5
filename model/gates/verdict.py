"""The promotion verdict of one run: the gates of docs/design.md §5 over the protocol's outcomes, not
applicable where the data cannot have them, and the leakage gates."""

from __future__ import annotations

from model.artifacts import PromotionVerdict, ProtocolOutcome, TrainedModel
from model.config import ExperimentConfig
from model.data.splits import DataSplits
from model.evaluation.baselines import baseline_accuracy
from model.gates.leakage import integrity_gates
from model.gates.promotion import evaluate_promotion_gates


def not_applicable_reasons(experiment: ExperimentConfig, data_splits: DataSplits) -> dict[str, str]:
    """The gates (docs/design.md §5) this data cannot have, and why."""
    reasons = {}
    cohorts = experiment.evaluation.subsets
    if len(cohorts) < 2:
        reasons["subset_accuracy_gap"] = (
            f"evaluation.subsets names {len(cohorts)} cohort(s), a gap needs two"
            + ("; the data has no group column" if data_splits.dataset.groups is None else "")
        )
    if data_splits.dataset.labels is None:
        no_label = "the data has no label column: no accuracy"
        reasons |= {"seed_accuracy_std": no_label, "routed_accuracy_drop": no_label}
        reasons.setdefault("subset_accuracy_gap", no_label)
    elif len(set(experiment.evaluation.repro_seeds) | {experiment.train.seed}) < 2:
        reasons["seed_accuracy_std"] = "one seed only (evaluation.repro_seeds): no spread to measure"
    return reasons


def promotion_verdict(
    experiment: ExperimentConfig,
    trained_model: TrainedModel,
    data_splits: DataSplits,
    reproducibility: ProtocolOutcome,
    subsets: ProtocolOutcome,
    utility: ProtocolOutcome,
) -> PromotionVerdict:
    """The gates of docs/design.md §5 (not applicable where the data cannot have them) and the leakage
    gates."""
    gate_inputs = {
        "accuracy_std": reproducibility.metrics["accuracy_std"],
        "subset_accuracy_gap": subsets.metrics["subset_accuracy_gap"],
        "flops_reduction": utility.metrics["flops_reduction"],
        "routed_accuracy": utility.metrics["routed_accuracy"],
        "dense_accuracy": utility.metrics["dense_accuracy"],
    }
    gates = evaluate_promotion_gates(
        gate_inputs, experiment.gates, not_applicable_reasons(experiment, data_splits)
    )
    main = data_splits.main
    accuracy = trained_model.test_metrics.get("accuracy")
    baseline = (
        baseline_accuracy("logistic_regression", main.train, main.test)
        if main.train.labels is not None
        else None
    )
    gates += integrity_gates(
        data_splits.dataset, accuracy, baseline, experiment.gates.perfect_accuracy_margin
    )
    metrics = {k: None if v is None or v != v else float(v) for k, v in gate_inputs.items()}
    return PromotionVerdict(gates=gates, metrics=metrics | {"logistic_regression_accuracy": baseline})
