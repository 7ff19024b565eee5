"""measure_utility: Exp-4, utility per block, FLOPs and accuracy of gated vs dense inference."""

from typing import Annotated

from zenml import step

from model.config import ExperimentConfig
from model.data import DataSplits
from model.protocol import ProtocolOutcome, exp4_utility
from model.trainer import TrainedModel
from steps.runtime import begin_step
from steps.tracking import publish_outcome


@step
def measure_utility(
    trained_model: TrainedModel, data_splits: DataSplits, experiment: ExperimentConfig
) -> Annotated[ProtocolOutcome, "utility_result"]:
    """Exp-4 on the main model over the main split's test rows.

    Reads `trained_model` (network and training history) and `data_splits.main.test`. Writes and returns
    `utility_result`: FLOPs and accuracy of gated vs dense inference, utility per block,
    `utility/utility_map.png`, `flops_log.csv` and `utility_per_epoch.csv`.
    """
    begin_step(experiment)
    outcome = exp4_utility(trained_model.model, data_splits.main.test, trained_model.history)
    publish_outcome(experiment, outcome)
    return outcome
