"""train: one training invocation (main model, a repro seed, a cohort or a leave-one-cohort-out run)."""

import json
import logging
from typing import Annotated

import torch
from zenml import get_step_context, step

from model.artifacts import TrainedModel
from model.config import ExperimentConfig
from model.data.splits import MAIN_VIEW, DataSplits, DataView
from model.errors import TrainingStopped
from model.training.launch import train_on_ranks
from model.training.progress import TrainingProgress
from model.training.signals import stop_requested
from model.training.threads import this_machine
from model.training.trainer import evaluate_model, train_model
from steps.support.checkpoints import training_checkpoint
from steps.support.ranks import torchrun_environment
from steps.support.results import write_files
from steps.support.runtime import begin_step, run_is_local, stop_this_step
from steps.support.tracking import track

logger = logging.getLogger(__name__)


@step
def train(
    data_splits: DataSplits,
    experiment: ExperimentConfig,
    view: DataView = MAIN_VIEW,
    seed: int | None = None,
    other_machine_shape: bool = False,
) -> Annotated[TrainedModel, "trained_model"]:
    """Trains one model on the training rows of `view` and evaluates it on that view's test rows.

    Reads the `view` split of `data_splits` (made by load_data), `experiment.model` and `experiment.train` (its
    seed replaced by `seed` when given). With `other_machine_shape` it resolves `train.threads` as on a machine
    with another number of usable CPUs (1, or 2 where this one has 1): Exp-5's same-seed rerun, which shows
    whether the numbers depend on the machine. Writes `logs/grad/<invocation>.json` (gradient norms per epoch).
    Checkpoints the training in the artifact store every `train.checkpoint_every` epochs, and at the end of the
    running epoch on SIGTERM (a preempted pod), then stops; a rerun of the same training (after a kill or a
    stop) resumes from the last one to the same weights (steps/support/checkpoints.py).
    Returns `trained_model`: the network with its history, test metrics, the view's `Standardizer`, view,
    seed and runtime (device, world size, threads, torch version). With `train.devices` above one, it trains
    as rank 0 of that many data-parallel ranks (model/training/launch.py), or of the group torchrun started.
    """
    other_cpus = (2 if this_machine()[1] == 1 else 1) if other_machine_shape else None
    launched = torchrun_environment()
    runtime = begin_step(experiment, training=True, cpus=other_cpus, launched=launched)
    train_config = experiment.train if seed is None else experiment.train.model_copy(update={"seed": seed})
    split = data_splits[view]
    step_name = get_step_context().step_name
    logger.info(
        "%s: training view=%s seed=%d on %d rows, world size %d",
        step_name,
        view,
        train_config.seed,
        split.train.features.shape[0],
        runtime.world_size,
    )
    checkpoint = training_checkpoint(step_name, view, split, experiment.model, train_config)
    bar = TrainingProgress(step_name, train_config.structure.max_rounds)
    try:
        if runtime.world_size == 1:
            result = train_model(
                split.train,
                experiment.model,
                train_config,
                bar.epoch,
                structure_progress=bar.structure_round,
                checkpoint=checkpoint,
                stop_requested=stop_requested,
            )
        else:  # rank 0 of the data-parallel ranks; the others start here or were started by torchrun
            result = train_on_ranks(
                split.train,
                experiment.model,
                train_config,
                torch.device(runtime.device),
                runtime.world_size,
                runtime.threads,
                launched,
                bar.epoch,
                bar.structure_round,
                checkpoint,
                stop_requested,
            )
    except TrainingStopped as stopped:  # SIGTERM: the checkpoint is saved; end before the grace period does
        logger.warning("%s: %s", step_name, stopped)
        if run_is_local():
            stop_this_step(f"training {step_name} stopped after epoch {stopped.epoch}, its checkpoint saved")
        raise  # a pod of its own: the step fails, and its retry or a rerun resumes from the checkpoint
    metrics = evaluate_model(result.model, split.test)
    logger.info("%s: test %s", step_name, {k: round(v, 4) for k, v in metrics.items()})
    grad_log = {f"logs/grad/{step_name}.json": json.dumps(result.gradient_log(), indent=1).encode()}
    write_files(experiment, grad_log)
    track(
        experiment,
        params={
            **experiment.model_copy(update={"train": train_config}).model_dump(mode="json"),
            "view": str(view),
        },
        metrics={"test": metrics},
        history=result.history,
        files=grad_log,
        tags={
            "view": str(view),
            "seed": str(train_config.seed),
            "threads": str(runtime.threads),
            "usable_cpus": str(runtime.usable_cpus),
            "torch": runtime.torch_version,
            "device": runtime.device,
            "world_size": str(runtime.world_size),
            "data_fingerprint": data_splits.dataset.fingerprint(),
        },
    )
    return TrainedModel(
        model=result.model,
        history=result.history,
        test_metrics=metrics,
        standardizer=split.standardizer,
        view=view,
        seed=train_config.seed,
        n_train=int(split.train.features.shape[0]),
        n_test=int(split.test.features.shape[0]),
        structure=result.structure,
        runtime=runtime,
    )
