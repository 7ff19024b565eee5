"""Register the `causal-lattice-local` ZenML stack: default orchestrator and artifact store + an MLflow
experiment tracker and model registry, and make it active. Idempotent: what exists is updated, never
duplicated.

Where MLflow lives is decided here, at the command-line boundary, and nowhere deeper in the code:

1. `--tracking-uri URI`, else
2. the standard `MLFLOW_TRACKING_URI` environment variable, else
3. `extra.mlflow.tracking_uri` of the run configuration (`--config`, default zenml_config.yaml), else
4. the embedded default: a SQLite file `<state-dir>/mlflow.db` (`sqlite:////abs/path/.state/mlflow.db`), with
   artifacts under `<state-dir>/mlartifacts`.

ZenML 0.92's MLflow tracker flavor accepts `sqlite:`, `postgresql:`, `mysql:`, `mssql:`, `file:` and
`http(s):` URIs (`MLFlowExperimentTracker._ensure_valid_tracking_uri`), so the SQLite store is registered as
it is; the artifact location of a SQLite store is fixed when its experiment is created, so this command
creates the experiment with `artifact_location=<state-dir>/mlartifacts`. For an http(s) server the flavor's
validator demands credentials: `MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD` or
`MLFLOW_TRACKING_TOKEN` go into the ZenML secret `causal_lattice_mlflow` (referenced, never stored in the
component); a server without authentication gets a placeholder token, which it ignores. The server must answer
`/health` now, or this command fails naming the URI.

The tracker carries MLflow's HTTP client settings as component environment (fewer, shorter retries than
MLflow's default of 7 with exponential back-off), so a step that cannot reach the server fails in seconds,
naming the URI.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from registry import MLFLOW_EXPERIMENT

STACK_NAME = "causal-lattice-local"
TRACKER_NAME = "causal-lattice-mlflow"
REGISTRY_NAME = "causal-lattice-mlflow-registry"
SECRET_NAME = "causal_lattice_mlflow"
NO_AUTH_TOKEN = "no-auth"  # noqa: S105  (a placeholder for servers without authentication, not a credential)
MLFLOW_CLIENT_ENVIRONMENT = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
}


class SetupError(RuntimeError):
    """The stack cannot be set up; the message names the URI or setting and the fix."""


def is_remote(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def config_tracking_uri(config_path: Path | None) -> str | None:
    """`extra.mlflow.tracking_uri` of a run configuration, if set."""
    if config_path is None or not config_path.is_file():
        return None
    document = yaml.safe_load(config_path.read_text()) or {}
    value = ((document.get("extra") or {}).get("mlflow") or {}).get("tracking_uri")
    return str(value) if value else None


def resolve_tracking_uri(
    cli_uri: str | None, environment: Mapping[str, str], config_path: Path | None, state_dir: Path
) -> str:
    """The tracking URI by the precedence in the module docstring."""
    uri = cli_uri or environment.get("MLFLOW_TRACKING_URI") or config_tracking_uri(config_path)
    return uri or f"sqlite:///{(state_dir / 'mlflow.db').resolve()}"


def check_reachable(uri: str, timeout_s: float = 5.0) -> None:
    """Fail with a message naming `uri` unless the MLflow server answers its /health endpoint."""
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
    raise SetupError(
        f"MLflow tracking server {uri} is unreachable ({problem} from {url}): start the server, or point "
        "MLFLOW_TRACKING_URI at a running one (unset it for the embedded SQLite store), then rerun this "
        "command"
    )


def prepare_local_store(uri: str, artifact_dir: Path) -> None:
    """Create the SQLite store (schema) and the experiment with its artifacts under `artifact_dir`."""
    from mlflow import MlflowClient

    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    artifact_dir.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    if client.get_experiment_by_name(MLFLOW_EXPERIMENT) is None:
        client.create_experiment(MLFLOW_EXPERIMENT, artifact_location=artifact_dir.resolve().as_uri())


def _credentials(environment: Mapping[str, str]) -> dict[str, str]:
    if environment.get("MLFLOW_TRACKING_USERNAME") and environment.get("MLFLOW_TRACKING_PASSWORD"):
        return {
            "username": environment["MLFLOW_TRACKING_USERNAME"],
            "password": environment["MLFLOW_TRACKING_PASSWORD"],
        }
    if environment.get("MLFLOW_TRACKING_TOKEN"):
        return {"token": environment["MLFLOW_TRACKING_TOKEN"]}
    return {"token": NO_AUTH_TOKEN}


def _upsert_secret(client: Any, values: dict[str, str]) -> None:
    from zenml.exceptions import EntityExistsError

    try:
        client.create_secret(SECRET_NAME, values)
    except EntityExistsError:
        current = client.get_secret(SECRET_NAME)
        stale = [key for key in current.secret_values if key not in values]
        client.update_secret(SECRET_NAME, add_or_update_values=values, remove_values=stale or None)


def _upsert_component(
    client: Any,
    component_type: Any,
    name: str,
    configuration: dict[str, Any],
    environment: dict[str, str] | None = None,
) -> None:
    try:
        existing = client.get_stack_component(component_type, name, allow_name_prefix_match=False)
    except KeyError:
        existing = None
    if existing is None:
        client.create_stack_component(name, "mlflow", component_type, configuration, environment=environment)
        return
    if existing.flavor_name != "mlflow":
        raise SetupError(
            f"a {component_type.value} named {name!r} exists with flavor {existing.flavor_name!r}; "
            "delete or rename it"
        )
    # Replace, not merge: keys of an earlier setup (e.g. credentials of another server) must not linger.
    stale = {key: None for key in existing.configuration if key not in configuration}
    client.update_stack_component(
        name, component_type, configuration={**stale, **configuration}, environment=environment
    )


def register_stack(uri: str, environment: Mapping[str, str]) -> None:
    """Register or update the tracker, the registry and the stack, and activate the stack."""
    from zenml.client import Client
    from zenml.enums import StackComponentType

    client = Client()
    configuration: dict[str, Any] = {"tracking_uri": uri}
    if is_remote(uri):
        credentials = _credentials(environment)
        _upsert_secret(client, credentials)
        configuration.update({f"tracking_{key}": f"{{{{{SECRET_NAME}.{key}}}}}" for key in credentials})
    _upsert_component(
        client,
        StackComponentType.EXPERIMENT_TRACKER,
        TRACKER_NAME,
        configuration,
        dict(MLFLOW_CLIENT_ENVIRONMENT),
    )
    _upsert_component(client, StackComponentType.MODEL_REGISTRY, REGISTRY_NAME, {})
    components = {
        StackComponentType.ORCHESTRATOR: "default",
        StackComponentType.ARTIFACT_STORE: "default",
        StackComponentType.EXPERIMENT_TRACKER: TRACKER_NAME,
        StackComponentType.MODEL_REGISTRY: REGISTRY_NAME,
    }
    try:
        client.get_stack(STACK_NAME, allow_name_prefix_match=False)
    except KeyError:
        client.create_stack(STACK_NAME, components)
    else:
        client.update_stack(STACK_NAME, component_updates={k: [v] for k, v in components.items()})
    client.activate_stack(STACK_NAME)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(".state"),
        help="where the embedded SQLite store and artifacts live (default: .state)",
    )
    parser.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, then the "
        "config's extra.mlflow.tracking_uri, then SQLite in the state dir)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("zenml_config.yaml"),
        help="run configuration read for extra.mlflow.tracking_uri (default: zenml_config.yaml)",
    )
    args = parser.parse_args(argv)
    state_dir = args.state_dir.resolve()
    uri = resolve_tracking_uri(args.tracking_uri, os.environ, args.config, state_dir)
    try:
        if is_remote(uri):
            check_reachable(uri)
        elif uri.startswith("sqlite:") or uri.startswith("file:"):
            prepare_local_store(uri, state_dir / "mlartifacts")
        register_stack(uri, os.environ)
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"stack {STACK_NAME!r} is active: experiment tracker {TRACKER_NAME!r} and model registry "
        f"{REGISTRY_NAME!r} use MLflow at {uri}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
