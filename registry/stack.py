"""Which MLflow the active ZenML stack uses, for the pipeline definition and the command-line tools.

`tracked_step_options()` is called while the pipeline is being defined (on the client, with the stack it will
run on): with an MLflow experiment tracker in the stack the training and evaluation steps get it, with nested
runs in one experiment; without one they get nothing and run untracked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from registry import EXPERIMENT_NAME

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
        "settings": {"experiment_tracker": {"nested": True, "experiment_name": EXPERIMENT_NAME}},
    }


def active_mlflow_tracker() -> MLFlowExperimentTracker | None:
    """The active stack's MLflow tracker component (configures URI and credentials), None without one."""
    from zenml.client import Client
    from zenml.integrations.mlflow.experiment_trackers import MLFlowExperimentTracker

    tracker = Client().active_stack.experiment_tracker
    return tracker if isinstance(tracker, MLFlowExperimentTracker) else None
