"""extract_attention: Exp-1, the causal attention heatmap and its KL to the lattice prior."""

from typing import Annotated

from zenml import step

from model.artifacts import ProtocolOutcome, TrainedModel
from model.config import ExperimentConfig
from model.data.splits import DataSplits
from model.evaluation.attention_check import check_attention
from steps.support.runtime import begin_step
from steps.support.tracking import publish_outcome


@step
def extract_attention(
    trained_model: TrainedModel, data_splits: DataSplits, experiment: ExperimentConfig
) -> Annotated[ProtocolOutcome, "attention_result"]:
    """Exp-1 on the main model over the main split's test rows.

    Reads `trained_model`, `data_splits.main.test` and `visualization.attention_heatmap`. Writes and returns
    `attention_result`: KL to the causal prior, mean diagonal weight, `visuals/attention/heatmap.png` and
    `attention_weight.csv`.
    """
    begin_step(experiment)
    outcome = check_attention(trained_model.model, data_splits.main.test)
    if not experiment.visualization.attention_heatmap:
        outcome.files.pop("visuals/attention/heatmap.png")
    publish_outcome(experiment, outcome)
    return outcome
