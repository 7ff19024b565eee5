"""Running the pipeline from the command line: the MLflow target and server checked first, and a failed run
reported in one line naming the first failed step and the cause that outlives it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import click

from cli.front_door import EXIT_FAILED, fail
from cli.stacks import store_lock
from model.config import ExperimentConfig
from model.data.files import check_results_dir
from model.errors import ConfigError
from model.training.signals import EXIT_STOPPED, RunStopped, stop_requested


def tracking_server_problem() -> str | None:
    """Why the active stack's MLflow server cannot be used (its URI named), or None when it answers."""
    from registry.stack import TrackingServerError, active_mlflow_tracker, check_reachable, is_remote

    try:
        tracker = active_mlflow_tracker()
        uri = tracker.get_tracking_uri() if tracker is not None else None
        if uri is not None and is_remote(uri):
            check_reachable(uri)
    except TrackingServerError as error:
        return str(error)
    return None


def device_problem(experiment: ExperimentConfig) -> str | None:
    """Why the trainings cannot run where the active stack runs them: `train.device: cuda` (or `train.devices`
    GPUs) while a local orchestrator (`local`, or `local_parallel`, a subclass) runs every step on this machine,
    where torch sees no CUDA device (or fewer GPUs). Elsewhere (a Kubeflow pod) each training step checks its
    own node before any work (steps/support/runtime.py)."""
    if experiment.train.device != "cuda" and experiment.train.devices == 1:
        return None
    from zenml.client import Client
    from zenml.orchestrators.local.local_orchestrator import LocalOrchestrator

    stack = Client().active_stack
    if not isinstance(stack.orchestrator, LocalOrchestrator):
        return None
    from model.errors import DeviceUnavailableError
    from model.training.device import resolve_device, resolve_world_size

    try:
        resolve_world_size(experiment.train.devices, resolve_device(experiment.train.device))
    except DeviceUnavailableError as error:
        return (
            f"{error}; the active stack {stack.name!r} runs the steps on this machine (local orchestrator), "
            "so none of them could train"
        )
    return None


def foreign_target_problem(environment: Mapping[str, str]) -> str | None:
    """Why the shell's MLflow variables point elsewhere than the active stack's tracker, or None. The steps
    log to the stack's target, so a run started with `MLFLOW_TRACKING_URI` set to another server would
    reach the old one."""
    from registry.stack import active_mlflow_target

    target = active_mlflow_target()
    return None if target is None else target.foreign_setting(environment)


def failure_cause(experiment: ExperimentConfig, pipeline_name: str, error: Exception) -> str:
    """The first failed step of the pipeline's newest run and, where it is one, the cause that outlives the
    run: a full or unwritable results folder, an MLflow server that does not answer."""
    step = None
    try:
        from zenml.client import Client

        run = Client().get_pipeline(pipeline_name).last_run
        failed = sorted(
            (s for s in run.steps.values() if s.status.value == "failed"),
            key=lambda s: s.start_time or s.created,
        )
        step = failed[0].name if failed else None
    except Exception:  # only a courtesy: ZenML has logged every failed step's traceback above
        pass
    try:
        check_results_dir(experiment.results_dir)
        diagnosis = tracking_server_problem()
    except ConfigError as problem:
        diagnosis = str(problem)
    where = f"step {step} failed" if step else f"{type(error).__name__}: {error}"
    return f"{where}: {diagnosis or 'its error is logged above'}"


def run_pipeline(config_path: Path, experiment: ExperimentConfig) -> None:
    """Run the pipeline; a failed run is one line naming the first failed step and, where it can be seen, the
    cause (exit code 1; ZenML has logged the step's traceback). A rerun reuses every step that finished. On
    SIGTERM a running training checkpoints at its epoch's end, any other running step finishes, and the run
    stops (exit 143, model/training/signals.py)."""
    from pipelines.causal_experiment import causal_experiment_pipeline

    if stop_requested():
        fail(f"{stop_requested()} received before the pipeline started: nothing ran", EXIT_STOPPED)
    with store_lock():  # a run started at the same moment may be creating the store
        pass
    problem = device_problem(experiment) or foreign_target_problem(os.environ) or tracking_server_problem()
    if problem:
        fail(problem)
    try:
        causal_experiment_pipeline.with_options(config_path=str(config_path))()
    except RunStopped as stopped:
        fail(str(stopped), EXIT_STOPPED)
    except Exception as error:
        cause = failure_cause(experiment, causal_experiment_pipeline.name, error)
        fail(f"the run failed: {cause}; then rerun (finished steps are reused)", EXIT_FAILED)
    if stop_requested():
        click.echo(f"{stop_requested()} received during the last step; the run completed", err=True)
