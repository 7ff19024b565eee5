"""repro_check: Exp-5, combine the repro trainings: same seed twice identical, std(accuracy) over seeds."""

from typing import Annotated

from zenml import step

from model.artifacts import ProtocolOutcome, RunSummary, TrainedModel, weights_digest
from model.config import ExperimentConfig
from model.errors import DataValidationError
from model.evaluation.reproducibility import check_reproducibility
from steps.support.runtime import begin_step
from steps.support.tracking import publish_outcome


def summarise(models: list[TrainedModel], names: list[str]) -> list[RunSummary]:
    """What each training invocation contributes to Exp-5 and the cohort protocol."""
    if len(models) != len(names):
        raise DataValidationError(f"got {len(models)} models but {len(names)} names")
    return [
        RunSummary(
            name=name,
            seed=m.seed,
            view=m.view,
            metrics=m.test_metrics,
            weights_digest=weights_digest(m.model),
            runtime=m.runtime,
        )
        for m, name in zip(models, names, strict=True)
    ]


@step
def repro_check(
    trained_models: list[TrainedModel],
    run_names: list[str],
    rerun_pairs: list[tuple[str, str]],
    experiment: ExperimentConfig,
) -> Annotated[ProtocolOutcome, "reproducibility_result"]:
    """Exp-5 over the main and repro trainings.

    Reads `trained_models[i]` (from invocation `run_names[i]`), the same-seed `rerun_pairs` and
    `gates.max_seed_accuracy_std`. Writes and returns `reproducibility_result`: whether each pair is
    bit-identical, std(accuracy) over the seeds, `reproducibility_log.json` and `visuals/repro_accuracy.png`.
    """
    begin_step(experiment)
    runs = summarise(trained_models, run_names)
    outcome = check_reproducibility(runs, experiment.gates.max_seed_accuracy_std, rerun_pairs)
    publish_outcome(experiment, outcome)
    return outcome
