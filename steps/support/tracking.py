"""Glue between the steps and `registry.tracking`: who is logging (from the ZenML step context) and what.

Every call is a no-op on a stack without an MLflow experiment tracker.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from zenml import get_step_context

from model.artifacts import EpochRecord, ProtocolOutcome
from model.config import ExperimentConfig
from registry.stack import ensure_parent_run
from registry.tracking import StepIdentity, active_run, log_step
from steps.support.results import write_files


def step_identity() -> StepIdentity:
    context = get_step_context()
    return StepIdentity(
        pipeline=context.pipeline.name,
        run_name=context.pipeline_run.name,
        run_id=str(context.pipeline_run.id),
        step=context.step_run.name,
    )


def track(
    experiment: ExperimentConfig,
    *,
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    history: Sequence[EpochRecord] = (),
    files: Mapping[str, bytes] | None = None,
    tags: Mapping[str, str] | None = None,
) -> None:
    """Log a step's params/metrics/history/tags to its MLflow run and its files to the pipeline run's."""
    if active_run() is None:
        return
    log_step(
        step_identity(),
        config=experiment.model_dump(mode="json"),
        params=params,
        metrics=metrics,
        history=history,
        files=files,
        tags=tags,
    )


def publish_outcome(experiment: ExperimentConfig, outcome: ProtocolOutcome) -> None:
    """An experiment step's files (docs/design.md §4) into the run's results folder, and its numbers and files
    to MLflow."""
    write_files(experiment, outcome.files)
    track(experiment, metrics=outcome.metrics, files=outcome.files)


def open_pipeline_run() -> None:
    """Create the pipeline run's parent MLflow run up front (see `registry.stack.ensure_parent_run`)."""
    identity = step_identity()
    ensure_parent_run(identity.run_name, identity.tags())
