"""k8s/register_stack.sh: the environment checks (no Python started when they fail) and, against a real ZenML
SQL store (ZENML_STORE_URL=sqlite:///...), the registration it hands to `python -m tools production-stack`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.k8s.k8s_testlib import REGISTER_STACK, REPO, example_secrets, script_default

REQUIRED_ENV = {
    "ZENML_STORE_URL": "https://zenml.example.com",
    "ZENML_STORE_API_KEY": "test-api-key",
    "KUBEFLOW_HOST": "https://kubeflow.example.com/pipeline",
    "MLFLOW_TRACKING_URI": "http://mlflow.causal-lattice.svc.cluster.local:5000",
    "MLFLOW_TRACKING_USERNAME": "causal-lattice",
    "MLFLOW_TRACKING_PASSWORD": "s3cr'et pa$$word",
    "ARTIFACT_STORE_PATH": "s3://bucket/zenml",
    "CONTAINER_REGISTRY_URI": "registry.example.com/causal-lattice",
    "PIPELINE_IMAGE": "registry.example.com/causal-lattice/causal-lattice:0.1.0",
}
BIN = str(Path(sys.executable).parent)  # the project's virtualenv, as the script expects it on PATH

STORE_QUERY = """
import json
from zenml.client import Client
client = Client()
stack = client.active_stack_model
components = {
    str(kind.value): {"name": c.name, "flavor": c.flavor_name, "configuration": c.configuration}
    for kind, (c, *_) in stack.components.items()
}
counts = {t: len(client.list_stack_components(type=t, name=c["name"]).items) for t, c in components.items()}
secret = client.get_secret("mlflow_tracking")
print(json.dumps({"active": stack.name, "stacks": sorted(s.name for s in client.list_stacks().items),
    "components": components, "counts": counts, "secret": dict(secret.secret_values),
    "flavor": client.get_flavor_by_name_and_type("kubeflow_gpu", "orchestrator").source}))
"""


def _env(root: Path, **values: str) -> dict[str, str]:
    return {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(root),
        "ZENML_CONFIG_PATH": str(root / "zenml"),
        "ZENML_ANALYTICS_OPT_IN": "false",
        **values,
    }


def _run_script(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", str(REGISTER_STACK)], env=env, capture_output=True, text=True, timeout=300
    )


def test_register_stack_script_parses() -> None:
    result = subprocess.run(["bash", "-n", str(REGISTER_STACK)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert os.access(REGISTER_STACK, os.X_OK), "register_stack.sh is not executable"
    assert "set -euo pipefail" in REGISTER_STACK.read_text()


def test_register_stack_with_empty_env_names_every_missing_variable(tmp_path: Path) -> None:
    result = _run_script(_env(tmp_path))
    assert result.returncode == 2
    for name in REQUIRED_ENV:
        assert name in result.stderr, f"stderr does not name {name}: {result.stderr}"
    assert not (tmp_path / "zenml").exists(), "ZenML was started before the environment check"
    # A literally empty environment (no PATH, no HOME) gives the same clear message.
    bare = subprocess.run(
        ["/bin/bash", str(REGISTER_STACK)], env={}, capture_output=True, text=True, timeout=60
    )
    assert bare.returncode == 2
    assert all(name in bare.stderr for name in REQUIRED_ENV), bare.stderr


@pytest.mark.parametrize("missing", sorted(REQUIRED_ENV))
def test_register_stack_names_a_single_missing_variable(tmp_path: Path, missing: str) -> None:
    result = _run_script(_env(tmp_path, **{k: v for k, v in REQUIRED_ENV.items() if k != missing}))
    assert result.returncode == 2
    assert missing in result.stderr
    assert not [n for n in REQUIRED_ENV if n != missing and f"{n}:" in result.stderr], (
        "names a variable that is set"
    )
    assert not (tmp_path / "zenml").exists()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ARTIFACT_STORE_PATH", "bucket/zenml"),
        ("MLFLOW_TRACKING_URI", "mlflow:5000"),
        ("KUBEFLOW_HOST", "kubeflow"),
        ("PIPELINE_IMAGE", "registry.example.com/causal-lattice/causal-lattice:latest"),
        ("PIPELINE_IMAGE", "causal-lattice"),
        ("KUBEFLOW_RUN_TIMEOUT_S", "soon"),
    ],
)
def test_register_stack_rejects_malformed_values_before_zenml(
    tmp_path: Path, variable: str, value: str
) -> None:
    result = _run_script(_env(tmp_path, **{**REQUIRED_ENV, variable: value}))
    assert result.returncode == 2
    assert variable in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "zenml").exists()


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The script run four times against one real ZenML SQL store: register, re-run with a new image,
    a gs:// path for the existing s3 artifact store (refused), and gs:// under a new artifact store name."""
    root = tmp_path_factory.mktemp("register-stack")
    store = {**REQUIRED_ENV, "ZENML_STORE_URL": f"sqlite:///{root / 'store' / 'zenml.db'}"}
    (root / "store").mkdir()
    newer_image = REQUIRED_ENV["PIPELINE_IMAGE"].replace("0.1.0", "0.1.1")
    runs = {
        "first": _run_script(_env(root, **store)),
        "again": _run_script(_env(root, **{**store, "PIPELINE_IMAGE": newer_image})),
    }
    query = subprocess.run(
        [sys.executable, "-c", STORE_QUERY], env=_env(root, **store), capture_output=True, text=True, cwd=REPO
    )
    assert query.returncode == 0, query.stderr[-3000:]
    gs = {**store, "ARTIFACT_STORE_PATH": "gs://bucket/zenml"}
    runs["gs_same_name"] = _run_script(_env(root, **gs))
    runs["gs"] = _run_script(
        _env(root, **gs, ARTIFACT_STORE_NAME="gcs_artifacts", ZENML_STACK_NAME="gcp-prod")
    )
    after_gs = subprocess.run(
        [sys.executable, "-c", STORE_QUERY], env=_env(root, **store), capture_output=True, text=True, cwd=REPO
    )
    assert after_gs.returncode == 0, after_gs.stderr[-3000:]
    return {
        "runs": runs,
        "state": json.loads(query.stdout.strip().splitlines()[-1]),
        "after_gs": json.loads(after_gs.stdout.strip().splitlines()[-1]),
        "image": newer_image,
    }


def test_register_stack_registers_and_updates_the_production_stack(registered: dict[str, Any]) -> None:
    for name in ("first", "again"):
        result = registered["runs"][name]
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    state = registered["state"]
    assert state["active"] == script_default("ZENML_STACK_NAME")
    assert state["flavor"] == "orchestrators.kubeflow_gpu.flavor.KubeflowGPUOrchestratorFlavor"
    assert set(state["counts"].values()) == {1}, "re-running registered something twice"
    components = state["components"]
    orchestrator = components["orchestrator"]
    assert orchestrator["flavor"] == "kubeflow_gpu"
    config = orchestrator["configuration"]
    assert config["kubeflow_hostname"] == REQUIRED_ENV["KUBEFLOW_HOST"]
    assert config["image"] == registered["image"]  # the second run updated it; ZenML builds no image
    assert config["synchronous"] is True
    assert config["timeout"] == int(script_default("KUBEFLOW_RUN_TIMEOUT_S"))
    # The Kubernetes Secrets the orchestrator injects into the step pods exist, with those keys.
    secrets = example_secrets()
    for secret, keys in (
        ("zenml_server_secret", "zenml_server_secret_keys"),
        ("mlflow_secret", "mlflow_secret_keys"),
    ):
        assert config[secret] in secrets, f"{secret}={config[secret]} is not in secrets.example.yaml"
        assert config[keys] and set(config[keys]) <= set(secrets[config[secret]]), f"{keys}: unknown keys"
    tracker = components["experiment_tracker"]
    assert tracker["flavor"] == "mlflow"
    assert tracker["configuration"]["tracking_uri"] == REQUIRED_ENV["MLFLOW_TRACKING_URI"]
    assert tracker["configuration"]["tracking_password"] == "{{mlflow_tracking.password}}"
    assert components["model_registry"]["flavor"] == "mlflow"
    store = components["artifact_store"]
    assert store["flavor"] == "s3" and store["configuration"]["path"] == REQUIRED_ENV["ARTIFACT_STORE_PATH"]
    assert components["container_registry"]["configuration"]["uri"] == REQUIRED_ENV["CONTAINER_REGISTRY_URI"]
    # The MLflow password lives in the ZenML secret only (it reached Python through the environment).
    assert state["secret"] == {
        "username": REQUIRED_ENV["MLFLOW_TRACKING_USERNAME"],
        "password": REQUIRED_ENV["MLFLOW_TRACKING_PASSWORD"],
    }


def test_register_stack_refuses_to_change_a_components_flavor(registered: dict[str, Any]) -> None:
    result = registered["runs"]["gs_same_name"]
    assert result.returncode == 2
    assert (
        "artifact_store named 'causal_lattice_artifacts' exists with flavor 's3', not 'gcp'" in result.stderr
    )


def test_register_stack_uses_the_gcp_flavor_for_gs_paths(registered: dict[str, Any]) -> None:
    result = registered["runs"]["gs"]
    assert result.returncode == 0, result.stderr[-3000:]
    state = registered["after_gs"]
    assert state["active"] == "gcp-prod"
    assert state["components"]["artifact_store"]["flavor"] == "gcp"
    assert state["components"]["orchestrator"]["name"] == script_default("ORCHESTRATOR_NAME")


def test_the_registration_refuses_an_environment_the_script_did_not_prepare() -> None:
    from tools.production_stack import ProductionStackError, production_settings

    with pytest.raises(ProductionStackError, match=r"'ZENML_STACK_NAME'.*run k8s/register_stack.sh"):
        production_settings(REQUIRED_ENV)  # no defaults filled in
