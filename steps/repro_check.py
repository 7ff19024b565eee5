"""repro_check: Exp-5, combine the repro trainings: same seed twice identical, std(accuracy) over seeds."""

from typing import Annotated

from zenml import step

from model.config import ExperimentConfig
from model.data import DataValidationError
from model.experiments import ExperimentOutcome, RunSummary, reproducibility_experiment, weights_digest
from model.trainer import TrainedModel
from steps.tracking import publish_outcome


def summarise(models: list[TrainedModel], names: list[str]) -> list[RunSummary]:
    if len(models) != len(names):
        raise DataValidationError(f"got {len(models)} models but {len(names)} names")
    return [
        RunSummary(
            name=name,
            seed=m.seed,
            view=m.view,
            metrics=m.test_metrics,
            weights_digest=weights_digest(m.model),
        )
        for m, name in zip(models, names, strict=True)
    ]


@step
def repro_check(
    trained_models: list[TrainedModel],
    run_names: list[str],
    rerun_pairs: list[tuple[str, str]],
    experiment: ExperimentConfig,
) -> Annotated[ExperimentOutcome, "reproducibility_result"]:
    """`trained_models[i]` came from invocation `run_names[i]`; `rerun_pairs` name same-seed pairs."""
    runs = summarise(trained_models, run_names)
    outcome = reproducibility_experiment(runs, experiment.gates.max_seed_accuracy_std, rerun_pairs)
    publish_outcome(experiment, outcome)
    return outcome
