"""subset_generalization: combine the per-cohort and leave-one-cohort-out trainings, with Evidently drift."""

from typing import Annotated

from zenml import step

from model.artifacts import ProtocolOutcome, TrainedModel
from model.config import ExperimentConfig
from model.data.splits import DataSplits
from model.evaluation.cohort_subsets import cohort_subsets
from steps.repro_check import summarise
from steps.support.runtime import begin_step
from steps.support.tracking import publish_outcome


@step
def subset_generalization(
    trained_models: list[TrainedModel],
    run_names: list[str],
    data_splits: DataSplits,
    experiment: ExperimentConfig,
) -> Annotated[ProtocolOutcome, "subset_result"]:
    """Seed VI.3 (docs/design.md#the-seed-document) over the cohort trainings.

    Reads `trained_models[i]` (from invocation `run_names[i]`; their data views say within-cohort or held-out)
    and `data_splits` (the cohorts, for the drift reports, and each held-out cohort's rows, for the logistic
    regression and oracle baselines beside it). Writes and returns `subset_result`: the accuracy gap between
    cohorts, leave-one-cohort-out accuracy with its baselines, `subsets/subset_summary.json`,
    `subset_accuracy.png` and `drift_<cohort>.html`.
    """
    begin_step(experiment)
    runs = summarise(trained_models, run_names)
    outcome = cohort_subsets(
        [r for r in runs if r.view.kind == "group"],
        [r for r in runs if r.view.kind == "logo"],
        data_splits,
    )
    publish_outcome(experiment, outcome)
    return outcome
