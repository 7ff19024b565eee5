"""subset_generalization: combine the per-cohort and leave-one-cohort-out trainings, with Evidently drift."""

from typing import Annotated

from zenml import step

from model.config import ExperimentConfig
from model.data import Dataset
from model.experiments import ExperimentOutcome, subset_experiment
from model.trainer import TrainedModel
from steps.repro_check import summarise
from steps.tracking import publish_outcome


@step
def subset_generalization(
    trained_models: list[TrainedModel], run_names: list[str], dataset: Dataset, experiment: ExperimentConfig
) -> Annotated[ExperimentOutcome, "subset_result"]:
    runs = summarise(trained_models, run_names)
    outcome = subset_experiment(
        [r for r in runs if r.view.startswith("group:")],
        [r for r in runs if r.view.startswith("logo:")],
        dataset,
    )
    publish_outcome(experiment, outcome)
    return outcome
