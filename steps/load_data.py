"""load_data: load, validate and split the configured data source."""

import logging
from typing import Annotated

from zenml import step

from model.config import ExperimentConfig
from model.data import Dataset, DataSplit, check_subsets, load_dataset, split_dataset
from steps.tracking import open_pipeline_run

logger = logging.getLogger(__name__)


@step
def load_data(
    experiment: ExperimentConfig,
) -> tuple[Annotated[Dataset, "dataset"], Annotated[DataSplit, "data_split"]]:
    dataset = load_dataset(experiment.data)
    check_subsets(dataset, experiment.evaluation.subsets)
    split = split_dataset(dataset, experiment.split)
    open_pipeline_run()  # the MLflow parent run exists before the parallel trainings start (no-op untracked)
    logger.info(
        "%s: %d rows, %d features; train %d / test %d",
        dataset.name,
        dataset.features.shape[0],
        dataset.n_features,
        split.train.features.shape[0],
        split.test.features.shape[0],
    )
    return dataset, split
