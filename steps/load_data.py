"""load_data: load, validate and split the configured data source, once for the whole run."""

import logging
import os
from typing import Annotated

from zenml import step

from model.config import ExperimentConfig
from model.data.sources import load_dataset
from model.data.splits import DataSplits
from model.data.tables import Dataset
from model.training.memory import process_memory_limits
from model.training.plan import check_training_plan
from steps.support.runtime import begin_step
from steps.support.tracking import open_pipeline_run

logger = logging.getLogger(__name__)


@step
def load_data(
    experiment: ExperimentConfig, input_digest: str = ""
) -> tuple[Annotated[Dataset, "dataset"], Annotated[DataSplits, "data_splits"]]:
    """Loads and validates the data, then makes every split the run trains on.

    Reads `experiment.data`, `experiment.split` (including `min_group_size`) and `evaluation.subsets`.
    `input_digest` is the content hash of the files the data source reads (`model.data.files.input_digest`, taken
    when the pipeline is built): with caching on, a changed file at the same path is a new input, never a
    cache hit. Returns `dataset`, the whole validated table, and `data_splits`: the main stratified split plus,
    per cohort of `evaluation.subsets`, the within-cohort and leave-one-cohort-out splits, each standardised
    on its own training rows. No later step splits again.
    """
    begin_step(experiment)
    dataset = load_dataset(experiment.data, experiment.split.min_group_size)
    splits = check_training_plan(dataset, experiment, process_memory_limits(os.environ))
    open_pipeline_run()  # the MLflow parent run exists before the parallel trainings start (no-op untracked)
    logger.info(
        "%s: %d rows, %d features; main split train %d / test %d; %d data views (input digest %s)",
        dataset.name,
        dataset.features.shape[0],
        dataset.n_features,
        splits.main.train.features.shape[0],
        splits.main.test.features.shape[0],
        len(splits.by_view),
        input_digest or "-",
    )
    return dataset, splits
