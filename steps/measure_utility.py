"""measure_utility: Exp-4, utility per block, FLOPs and accuracy of gated vs dense inference."""

from typing import Annotated

from zenml import step

from model.config import ExperimentConfig
from model.data import DataSplit
from model.experiments import ExperimentOutcome, utility_experiment
from model.trainer import TrainedModel
from steps.tracking import publish_outcome


@step
def measure_utility(
    trained_model: TrainedModel, data_split: DataSplit, experiment: ExperimentConfig
) -> Annotated[ExperimentOutcome, "utility_result"]:
    outcome = utility_experiment(trained_model.model, data_split.test, trained_model.history)
    publish_outcome(experiment, outcome)
    return outcome
