"""extract_attention: Exp-1, the causal attention heatmap and its KL to the lattice prior."""

from typing import Annotated

from zenml import step

from model.config import ExperimentConfig
from model.data import DataSplit
from model.experiments import ExperimentOutcome, attention_experiment
from model.trainer import TrainedModel
from steps.tracking import publish_outcome


@step
def extract_attention(
    trained_model: TrainedModel, data_split: DataSplit, experiment: ExperimentConfig
) -> Annotated[ExperimentOutcome, "attention_result"]:
    outcome = attention_experiment(trained_model.model, data_split.test)
    if not experiment.visualization.attention_heatmap:
        outcome.files.pop("visuals/attention/heatmap.png")
    publish_outcome(experiment, outcome)
    return outcome
