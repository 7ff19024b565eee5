"""Which MLflow: the tracking URI by one precedence everywhere, its reachability, and the active ZenML stack's
MLflow tracker.

`resolve_tracking_uri` is the only place that decides the URI (the gate command, the local stack set-up);
`active_mlflow_target()` and `tracked_step_options()` are called while the pipeline is being defined (on the
client, with the stack it will run on): with an MLflow experiment tracker in the stack the training and
evaluation steps get it, with nested runs in one experiment, and every step is pinned to that tracker's target
(`MlflowTarget.step_environment`), which is also part of its cache key; without one they get nothing and run
untracked.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from model.errors import ConfigError
from registry import MLFLOW_EXPERIMENT

if TYPE_CHECKING:
    from zenml.integrations.mlflow.experiment_trackers import MLFlowExperimentTracker

MLFLOW_FLAVOR = "mlflow"
ENV_TRACKING_URI = "MLFLOW_TRACKING_URI"
ENV_REGISTRY_URI = "MLFLOW_REGISTRY_URI"


class TrackingServerError(RuntimeError):
    """No MLflow to use; the message names the URI and the fix."""


def resolve_tracking_uri(
    explicit: str | None,
    environment: Mapping[str, str],
    configured: str | None,
    fallback: Callable[[], str],
) -> str:
    """The MLflow tracking URI: `explicit` (a `--tracking-uri` option), else the standard `MLFLOW_TRACKING_URI`
    of `environment`, else `configured` (the run configuration's `extra.mlflow.tracking_uri`), else
    `fallback()` (the caller's default: the embedded SQLite store, or the active stack's tracker)."""
    return explicit or environment.get(ENV_TRACKING_URI) or configured or fallback()


def is_remote(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def check_tracking_uri(uri: str, key: str) -> None:
    """Nothing when MLflow can use `uri` as its tracking store; a ConfigError naming `key` (where the URI was
    set), the URI and the forms MLflow takes otherwise. MLflow's own store registry decides which schemes this
    installation serves (plugins included); an HTTP URI needs a host, a database URI must parse (SQLAlchemy, as
    MLflow's SQL store does). Nothing is contacted here: reachability is checked when a run starts."""
    from urllib.parse import urlsplit

    from mlflow.exceptions import MlflowException
    from mlflow.tracking._tracking_service.utils import _tracking_store_registry
    from mlflow.utils.uri import get_uri_scheme
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    forms = "a path, file:///path, sqlite:///file.db, postgresql://user@host/db, http(s)://host:port or databricks"
    try:
        _tracking_store_registry.get_store_builder(uri)
    except MlflowException:
        problem: str | None = "MLflow has no tracking store for its scheme"
    else:
        scheme = get_uri_scheme(uri)
        problem = "it names no host" if scheme in ("http", "https") and not urlsplit(uri).hostname else None
        if scheme in ("sqlite", "postgresql", "mysql", "mssql"):
            try:
                make_url(uri)
            except ArgumentError:
                problem = "it is not a database URL"
    if problem:
        raise ConfigError(
            f"{key} {uri!r} is not a tracking URI MLflow can use ({problem}): set it to {forms}"
        )


def check_reachable(uri: str, timeout_s: float = 5.0) -> None:
    """Nothing when the MLflow server at `uri` answers /health; a TrackingServerError naming it otherwise."""
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310  (http(s) only)
            if response.status == 200:
                return
            problem = f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        problem = f"HTTP {error.code}"
    except (urllib.error.URLError, OSError) as error:
        problem = str(getattr(error, "reason", error))
    raise TrackingServerError(
        f"MLflow tracking server {uri} is unreachable ({problem} from {url}): start the server, or point "
        "MLFLOW_TRACKING_URI at a running one (unset it for the embedded SQLite store), then rerun this "
        "command"
    )


def active_mlflow_tracker_name() -> str | None:
    """Name of the active stack's MLflow experiment tracker, None if it has none (or another flavor)."""
    from zenml.client import Client
    from zenml.enums import StackComponentType

    components = Client().active_stack_model.components.get(StackComponentType.EXPERIMENT_TRACKER) or []
    names = [c.name for c in components if c.flavor_name == MLFLOW_FLAVOR]
    return names[0] if names else None


@dataclass(frozen=True)
class MlflowTarget:
    """Where a run's steps log (the tracking server) and register the model (the registry): the active stack's
    MLflow tracker URI for both, since ZenML's MLflow model registry has no URI of its own."""

    tracking_uri: str
    registry_uri: str

    def step_environment(self) -> dict[str, str]:
        """MLflow's own variables for a step that uses this target. They pin the step's MLflow client to it (a
        stray `MLFLOW_REGISTRY_URI` in the shell cannot send the model elsewhere), and ZenML hashes a step's
        environment into its cache key: a step that finished against another target is not a cache hit, so
        it runs again and logs here."""
        return {ENV_TRACKING_URI: self.tracking_uri, ENV_REGISTRY_URI: self.registry_uri}

    def foreign_setting(self, environment: Mapping[str, str]) -> str | None:
        """Why `environment` (the shell's) points MLflow elsewhere than this target, or None: the run logs
        to the stack's target whatever the shell says, so another URI there would lose the run without a
        word."""
        for variable, uri in self.step_environment().items():
            wanted = environment.get(variable)
            if not wanted or wanted.rstrip("/") == uri.rstrip("/"):
                continue
            if variable == ENV_REGISTRY_URI:
                return (
                    f"{variable} is {wanted} but the model is registered where the active ZenML stack's MLflow "
                    f"tracker logs, {uri}: unset {variable}"
                )
            return (
                f"{variable} is {wanted} but the active ZenML stack's MLflow tracker logs to {uri}: point the "
                f"stack at it (in a checkout `make run` does, or `python -m tools local-stack`), or unset {variable}"
            )
        return None


def active_mlflow_target() -> MlflowTarget | None:
    """The active stack's MLflow target, None on a stack without an MLflow tracker."""
    tracker = active_mlflow_tracker()
    if tracker is None:
        return None
    uri = tracker.get_tracking_uri()
    return MlflowTarget(tracking_uri=uri, registry_uri=uri)


def target_step_options(target: MlflowTarget | None) -> dict[str, Any]:
    """`step.with_options(**options)` for any step of a run against `target` (`{}` without one)."""
    return {} if target is None else {"environment": target.step_environment()}


def tracked_step_options(target: MlflowTarget | None) -> dict[str, Any]:
    """`step.with_options(**options)` for a step that logs to MLflow at `target` (the active stack's);
    `{}` on a stack without an MLflow tracker.

    `nested: True` makes ZenML open one parent MLflow run per pipeline run (named after the ZenML run) and one
    nested run per step invocation, named after the invocation id (`repro_seed_43`, `logo_lung`, ...).
    """
    name = active_mlflow_tracker_name()
    if name is None or target is None:
        return {}
    return {
        "experiment_tracker": name,
        "settings": {"experiment_tracker": {"nested": True, "experiment_name": MLFLOW_EXPERIMENT}},
        **target_step_options(target),
    }


def active_mlflow_tracker() -> MLFlowExperimentTracker | None:
    """The active stack's MLflow tracker component (configures URI and credentials), None without one."""
    from zenml.client import Client
    from zenml.integrations.mlflow.experiment_trackers import MLFlowExperimentTracker

    tracker = Client().active_stack.experiment_tracker
    return tracker if isinstance(tracker, MLFlowExperimentTracker) else None


def active_stack_tracking_uri() -> str:
    """The active stack's MLflow URI, with the tracker's credentials configured for this process."""
    tracker = active_mlflow_tracker()
    if tracker is None:
        raise TrackingServerError(
            "no MLflow to use: pass --tracking-uri, set MLFLOW_TRACKING_URI, or activate a ZenML stack with an "
            "MLflow experiment tracker (in a checkout: python -m tools local-stack)"
        )
    tracker.configure_mlflow()
    return tracker.get_tracking_uri()


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
