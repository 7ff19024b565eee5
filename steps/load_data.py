"""load_data: load, validate and split the configured data source."""


import logging
from typing import Annotated

from zenml import step

from model.config import ExperimentConfig
from model.data import Dataset, DataSplit, DataValidationError, load_dataset, split_dataset

logger = logging.getLogger(__name__)


@step
def load_data(experiment: ExperimentConfig) -> tuple[Annotated[Dataset, "dataset"], Annotated[DataSplit, "data_split"]]:
    dataset = load_dataset(experiment.data)
    missing = [g for g in experiment.evaluation.subsets if dataset.groups is None or g not in set(dataset.groups)]
    if missing:
        raise DataValidationError(
            f"evaluation.subsets names group(s) {missing} that the data does not have; set evaluation.subsets to "
            "groups present in the group column (or [] for data without groups)"
        )
    split = split_dataset(dataset, experiment.split)
    logger.info(
        "%s: %d rows, %d features; train %d / test %d",
        dataset.name, dataset.features.shape[0], dataset.n_features, split.train.features.shape[0],
        split.test.features.shape[0],
    )
    return dataset, split
