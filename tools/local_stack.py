"""The `causal-lattice-local` ZenML stack: the `local_parallel` orchestrator (the local one, with independent steps
run side by side as the run configuration's `processes` asks), the default artifact store, an MLflow experiment
tracker and model registry, made active (`python -m tools local-stack`; `make run` calls it first).

Where MLflow lives is decided by `registry.stack.resolve_tracking_uri` (`--tracking-uri`, else
`MLFLOW_TRACKING_URI`, else the run configuration's `extra.mlflow.tracking_uri`), with the embedded default last:
a SQLite file `<state-dir>/mlflow.db` with artifacts under `<state-dir>/mlartifacts`. ZenML 0.92's MLflow tracker
takes `sqlite:` URIs as they are; the artifact location of a SQLite store is fixed when its experiment is
created, so the experiment is created here. An http(s) server must answer `/health` now; its credentials
(`MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD` or `MLFLOW_TRACKING_TOKEN`) go into the ZenML secret
`causal_lattice_mlflow`, referenced by the tracker (a server without authentication gets a placeholder token).
The tracker carries MLflow's HTTP client settings as component environment (fewer, shorter retries than MLflow's
default), so a step that cannot reach the server fails in seconds, naming the URI.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cli.stacks import Component, upsert_stack
from orchestrators.local_parallel.flavor import LOCAL_PARALLEL_ORCHESTRATOR_FLAVOR
from registry import MLFLOW_EXPERIMENT
from registry.stack import check_reachable, is_remote, resolve_tracking_uri

STACK_NAME = "causal-lattice-local"
ORCHESTRATOR_NAME = "causal-lattice-local-orchestrator"
TRACKER_NAME = "causal-lattice-mlflow"
REGISTRY_NAME = "causal-lattice-mlflow-registry"
SECRET_NAME = "causal_lattice_mlflow"
NO_AUTH_TOKEN = "no-auth"  # noqa: S105  (a placeholder for servers without authentication, not a credential)
MLFLOW_CLIENT_ENVIRONMENT = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
}


def embedded_uri(state_dir: Path) -> str:
    return f"sqlite:///{(state_dir / 'mlflow.db').resolve()}"


def prepare_local_store(uri: str, artifact_dir: Path) -> None:
    """Create the SQLite store (schema) and the experiment with its artifacts under `artifact_dir`."""
    from mlflow import MlflowClient

    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    artifact_dir.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    if client.get_experiment_by_name(MLFLOW_EXPERIMENT) is None:
        client.create_experiment(MLFLOW_EXPERIMENT, artifact_location=artifact_dir.resolve().as_uri())


def credentials(environment: Mapping[str, str]) -> dict[str, str]:
    if environment.get("MLFLOW_TRACKING_USERNAME") and environment.get("MLFLOW_TRACKING_PASSWORD"):
        return {
            "username": environment["MLFLOW_TRACKING_USERNAME"],
            "password": environment["MLFLOW_TRACKING_PASSWORD"],
        }
    if environment.get("MLFLOW_TRACKING_TOKEN"):
        return {"token": environment["MLFLOW_TRACKING_TOKEN"]}
    return {"token": NO_AUTH_TOKEN}


def set_up_local_stack(
    tracking_uri: str | None, environment: Mapping[str, str], configured_uri: str | None, state_dir: Path
) -> str:
    """Register (or update) and activate the local stack; returns the MLflow URI it uses.

    Raises:
        registry.stack.TrackingServerError: If an http(s) server does not answer.
        cli.stacks.StackSetupError: If a component of the same name exists with another flavor.
    """
    uri = resolve_tracking_uri(tracking_uri, environment, configured_uri, lambda: embedded_uri(state_dir))
    configuration: dict[str, Any] = {"tracking_uri": uri}
    secrets = {}
    if is_remote(uri):
        check_reachable(uri)
        secrets[SECRET_NAME] = credentials(environment)
        configuration.update(
            {f"tracking_{key}": f"{{{{{SECRET_NAME}.{key}}}}}" for key in secrets[SECRET_NAME]}
        )
    elif uri.startswith(("sqlite:", "file:")):
        prepare_local_store(uri, state_dir / "mlartifacts")
    components = [
        Component(
            "orchestrator",
            ORCHESTRATOR_NAME,
            LOCAL_PARALLEL_ORCHESTRATOR_FLAVOR,
            flavor_source="orchestrators.local_parallel.flavor.LocalParallelOrchestratorFlavor",
        ),
        Component("artifact_store", "default"),
        Component("experiment_tracker", TRACKER_NAME, "mlflow", configuration, MLFLOW_CLIENT_ENVIRONMENT),
        Component("model_registry", REGISTRY_NAME, "mlflow"),
    ]
    upsert_stack(STACK_NAME, components, secrets=secrets)
    return uri
