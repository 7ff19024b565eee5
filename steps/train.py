"""train: one training invocation (main model, a repro seed, a cohort or a leave-one-cohort-out run)."""

import json
import logging
from typing import Annotated

from zenml import get_step_context, step

from model.config import ExperimentConfig
from model.data import Dataset, DataSplit, data_view
from model.trainer import TrainedModel, evaluate_model, train_model
from steps.results import write_files
from steps.tracking import track

logger = logging.getLogger(__name__)


@step
def train(
    dataset: Dataset,
    data_split: DataSplit,
    experiment: ExperimentConfig,
    view: str = "main",
    seed: int | None = None,
) -> Annotated[TrainedModel, "trained_model"]:
    """Train on the data `view` with `seed` (default: the config's seed); evaluate on the view's test part."""
    train_config = experiment.train if seed is None else experiment.train.model_copy(update={"seed": seed})
    split = data_view(dataset, data_split, view, experiment.split)
    step_name = get_step_context().step_name
    logger.info(
        "%s: training view=%s seed=%d on %d rows",
        step_name,
        view,
        train_config.seed,
        split.train.features.shape[0],
    )
    result = train_model(split.train, experiment.model, train_config)
    metrics = evaluate_model(result.model, split.test)
    logger.info("%s: test %s", step_name, {k: round(v, 4) for k, v in metrics.items()})
    grad_log = {f"logs/grad/{step_name}.json": json.dumps(result.gradient_log(), indent=1).encode()}
    write_files(experiment, grad_log)
    track(
        experiment,
        params={
            **experiment.model_copy(update={"train": train_config}).model_dump(mode="json"),
            "view": view,
        },
        metrics={"test": metrics},
        history=result.history,
        files=grad_log,
        tags={"view": view, "seed": str(train_config.seed), "data_fingerprint": dataset.fingerprint()},
    )
    return TrainedModel(
        model=result.model,
        history=result.history,
        test_metrics=metrics,
        feature_mean=split.standardizer.mean,
        feature_std=split.standardizer.std,
        view=view,
        seed=train_config.seed,
        n_train=int(split.train.features.shape[0]),
        n_test=int(split.test.features.shape[0]),
    )
