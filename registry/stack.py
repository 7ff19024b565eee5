"""Which MLflow the active ZenML stack uses, for the pipeline definition and the command-line tools.

`tracked_step_options()` is called while the pipeline is being defined (on the client, with the stack it will
run on): with an MLflow experiment tracker in the stack the training and evaluation steps get it, with nested
runs in one experiment; without one they get nothing and run untracked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from registry import MLFLOW_EXPERIMENT

if TYPE_CHECKING:
    from zenml.integrations.mlflow.experiment_trackers import MLFlowExperimentTracker

MLFLOW_FLAVOR = "mlflow"


def active_mlflow_tracker_name() -> str | None:
    """Name of the active stack's MLflow experiment tracker, None if it has none (or another flavor)."""
    from zenml.client import Client
    from zenml.enums import StackComponentType

    components = Client().active_stack_model.components.get(StackComponentType.EXPERIMENT_TRACKER) or []
    names = [c.name for c in components if c.flavor_name == MLFLOW_FLAVOR]
    return names[0] if names else None


def tracked_step_options() -> dict[str, Any]:
    """`step.with_options(**options)` for a step that logs to MLflow; `{}` on a stack without an MLflow
    tracker.

    `nested: True` makes ZenML open one parent MLflow run per pipeline run (named after the ZenML run) and one
    nested run per step invocation, named after the invocation id (`repro_seed_43`, `logo_lung`, ...).
    """
    name = active_mlflow_tracker_name()
    if name is None:
        return {}
    return {
        "experiment_tracker": name,
        "settings": {"experiment_tracker": {"nested": True, "experiment_name": MLFLOW_EXPERIMENT}},
    }


def active_mlflow_tracker() -> MLFlowExperimentTracker | None:
    """The active stack's MLflow tracker component (configures URI and credentials), None without one."""
    from zenml.client import Client
    from zenml.integrations.mlflow.experiment_trackers import MLFlowExperimentTracker

    tracker = Client().active_stack.experiment_tracker
    return tracker if isinstance(tracker, MLFlowExperimentTracker) else None


def ensure_parent_run(run_name: str, tags: dict[str, str]) -> str | None:
    """Create the pipeline run's parent MLflow run before any tracked step starts; best effort.

    ZenML's tracker finds the parent by run name when a tracked step starts and creates it when missing. On an
    orchestrator that starts the fan-out trainings in parallel (Kubeflow) several steps could each miss it and
    create duplicates; load_data, the step every other step follows, calls this once its data is valid.
    Returns the run id, or None without an MLflow tracker. An unreachable server only logs a warning naming the
    URI: load_data still completes and stores its artifacts, and the first tracked step fails on that server.
    """
    if active_mlflow_tracker_name() is None:
        return None
    import logging

    import mlflow
    from mlflow import MlflowClient
    from zenml import __version__ as zenml_version
    from zenml.integrations.mlflow.mlflow_utils import ZENML_TAG_KEY

    tracker = active_mlflow_tracker()
    if tracker is None:
        return None
    uri = tracker.get_tracking_uri()
    try:
        tracker.configure_mlflow()
        client = MlflowClient()
        experiment = client.get_experiment_by_name(MLFLOW_EXPERIMENT)
        experiment_id = (
            experiment.experiment_id if experiment else client.create_experiment(MLFLOW_EXPERIMENT)
        )
        run_id = tracker.get_run_id(MLFLOW_EXPERIMENT, run_name)
        if run_id is None:
            run = client.create_run(
                experiment_id, run_name=run_name, tags={**tags, ZENML_TAG_KEY: zenml_version}
            )
            run_id = run.info.run_id
            client.set_terminated(run_id, "FINISHED")  # the tracked steps resume it
        return run_id
    except Exception as error:  # best effort: the tracked steps report the failure
        logging.getLogger(__name__).warning(
            "MLflow tracking server %s is unreachable (%s); the steps that log to MLflow will fail",
            uri,
            error,
        )
        return None
    finally:
        mlflow.set_tracking_uri("")
