"""load_data: load, validate and split the configured data source, once for the whole run."""

import logging
from typing import Annotated

from zenml import step

from model.config import ExperimentConfig
from model.data import Dataset, DataSplits, check_subsets, load_dataset, make_splits
from model.data_view import cohort_views
from steps.runtime import begin_step
from steps.tracking import open_pipeline_run

logger = logging.getLogger(__name__)


@step
def load_data(
    experiment: ExperimentConfig,
) -> tuple[Annotated[Dataset, "dataset"], Annotated[DataSplits, "data_splits"]]:
    """Loads and validates the data, then makes every split the run trains on.

    Reads `experiment.data`, `experiment.split` (including `min_group_size`) and `evaluation.subsets`.
    Returns `dataset`, the whole validated table, and `data_splits`: the main stratified split plus, per cohort
    of `evaluation.subsets`, the within-cohort and leave-one-cohort-out splits, each standardised on its own
    training rows. No later step splits again.
    """
    begin_step(experiment)
    dataset = load_dataset(experiment.data, experiment.split.min_group_size)
    check_subsets(dataset, experiment.evaluation.subsets)
    splits = make_splits(dataset, experiment.split, cohort_views(experiment.evaluation.subsets))
    open_pipeline_run()  # the MLflow parent run exists before the parallel trainings start (no-op untracked)
    logger.info(
        "%s: %d rows, %d features; main split train %d / test %d; %d data views",
        dataset.name,
        dataset.features.shape[0],
        dataset.n_features,
        splits.main.train.features.shape[0],
        splits.main.test.features.shape[0],
        len(splits.by_view),
    )
    return dataset, splits
