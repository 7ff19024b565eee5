"""measure_utility: Exp-4, utility per block, FLOPs and accuracy of routed vs dense inference."""

from typing import Annotated

from zenml import step

from model.artifacts import ProtocolOutcome, TrainedModel
from model.config import ExperimentConfig
from model.data.splits import DataSplits
from model.evaluation.utility_check import check_utility
from steps.support.runtime import begin_step
from steps.support.tracking import publish_outcome


@step
def measure_utility(
    trained_model: TrainedModel, data_splits: DataSplits, experiment: ExperimentConfig
) -> Annotated[ProtocolOutcome, "utility_result"]:
    """Exp-4 on the main model over the main split's test rows.

    Reads `trained_model` (network and training history) and `data_splits.main.test`. Writes and returns
    `utility_result`: FLOPs and accuracy of routed vs dense inference, utility per block,
    `utility/utility_map.png`, `flops_log.csv` and `utility_per_epoch.csv`.

    Routed inference runs each block only on the rows the block router switched it on for; dense runs every
    block on every row. FLOPs are counted by torch's flop counter on the same rows, and wall time is the mean
    of five timed forward passes after a warm-up; the promotion gates read the FLOPs reduction and the
    accuracy drop.
    """
    begin_step(experiment)
    outcome = check_utility(trained_model.model, data_splits.main.test, trained_model.history)
    publish_outcome(experiment, outcome)
    return outcome
