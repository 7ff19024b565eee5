"""What every step does first (`begin_step`): pin the CPU threads of its numeric work and honour a stop request.

Threads: `train.threads` intra-op threads, capped by the cgroup's CPU quota (docs/reliability.md, "Threads and
bit-identical results", says why the count comes from the configuration and not from the machine).

SIGTERM (what Kubernetes sends on eviction and deletion, and `kill` by default): the step that is running
finishes and stores its artifacts; the next step does not start its work. It marks itself and the pipeline run
`stopped` in ZenML, ends the MLflow runs as KILLED and raises `RunStopped`, which the command line turns into
one line and exit code 143 (model/training/signals.py).

ZenML 0.92's step launcher installs a SIGTERM/SIGINT handler of its own for every step, which interrupts the
running step with an Exception; the local orchestrator then marks that step failed and starts the next one,
so a run never stops on SIGTERM. `take_over_sigterm` (called when the pipeline is built, in the process that
runs the steps, and again by every step) turns that installation off and keeps this handler in place.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import NoReturn

import torch

from model.artifacts import RuntimeInfo
from model.config import ExperimentConfig
from model.training.launch import RankEnvironment
from model.training.signals import RunStopped, install_stop_handler, stop_requested
from model.training.threads import machine_threads

logger = logging.getLogger(__name__)


def run_is_local() -> bool:
    """True on a local orchestrator (`local`, or `local_parallel`, a subclass): the process that started the run
    launches every step and stops with it. False in a pod of its own (kubeflow_gpu), where the step is retried
    or rerun and the run goes on."""
    from zenml.client import Client
    from zenml.orchestrators.local.local_orchestrator import LocalOrchestrator

    return isinstance(Client().active_stack.orchestrator, LocalOrchestrator)


def stop_this_step(what: str) -> NoReturn:
    """After a stop request: mark this step and its run stopped, end the MLflow runs, raise RunStopped.
    `what`: how far the step got, for the one line the command line prints."""
    from zenml import get_step_context
    from zenml.enums import ExecutionStatus
    from zenml.orchestrators.publish_utils import (
        publish_pipeline_run_status_update,
        publish_step_run_status_update,
    )

    context = get_step_context()
    name, step, run = stop_requested(), context.step_run.name, context.pipeline_run
    reason = f"{name} received; {what}"
    publish_pipeline_run_status_update(run.id, ExecutionStatus.STOPPING, status_reason=reason)
    # A step that is STOPPING when it fails is recorded as STOPPED; so is then the whole run.
    publish_step_run_status_update(context.step_run.id, ExecutionStatus.STOPPING)
    import mlflow

    while mlflow.active_run() is not None:
        mlflow.end_run(status="KILLED")
    raise RunStopped(
        f"run {run.name} stopped: {reason}; the steps before {step} completed and kept their artifacts, no "
        "step is left running; run the same command again to start a new run"
    )


def take_over_sigterm() -> None:
    """Make SIGTERM stop the run after the running step, in this process, for every step launched from now on."""
    from zenml.orchestrators.step_launcher import StepLauncher

    def keep_the_run_handlers(launcher: StepLauncher) -> None:
        launcher._prev_sigterm_handler = launcher._prev_sigint_handler = None

    StepLauncher._setup_signal_handlers = keep_the_run_handlers  # type: ignore[method-assign]
    install_stop_handler()


def begin_step(
    experiment: ExperimentConfig,
    training: bool = False,
    cpus: int | None = None,
    launched: RankEnvironment | None = None,
) -> RuntimeInfo:
    """The first call of every step: stop here if a signal asked for it, keep the stop handler in place and pin
    the threads (`cpus`: resolve them as on a machine with that many usable CPUs). Training runs on
    `train.device` as `train.devices` data-parallel ranks (`launched`: the group torchrun started, whose size
    wins); everything else runs on the CPU."""
    take_over_sigterm()
    if stop_requested():
        from zenml import get_step_context

        stop_this_step(f"stopped before step {get_step_context().step_name} started its work")
    from model.errors import DeviceUnavailableError
    from model.training.device import resolve_device, resolve_world_size

    try:
        device = resolve_device(experiment.train.device).type if training else "cpu"
        world_size = 1
        if training:
            size = None if launched is None else launched.world_size
            world_size = resolve_world_size(experiment.train.devices, torch.device(device), size)
    except DeviceUnavailableError as error:  # before any work: one clear line per training step
        from zenml import get_step_context

        raise DeviceUnavailableError(f"step {get_step_context().step_name}: {error}") from None
    runtime = replace(machine_threads(experiment.train.threads, device, cpus), world_size=world_size)
    logger.info("runtime: %s", runtime.describe())
    return runtime
