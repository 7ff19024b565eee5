"""The production ZenML stack (`k8s/register_stack.sh` checks the environment, then runs
`python -m tools production-stack`, which calls this).

    orchestrator       kubeflow_gpu (the custom flavor, registered first) with the project image and the
                       Kubernetes Secrets the step pods read their credentials from
    experiment tracker mlflow, credentials in the ZenML secret MLFLOW_SECRET_NAME (referenced, never stored
                       in the component)
    model registry     mlflow
    artifact store     s3 or gcp, by the scheme of ARTIFACT_STORE_PATH
    container registry CONTAINER_REGISTRY_FLAVOR

The variables, their checks and their defaults are in k8s/register_stack.sh.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cli.stacks import Component, upsert_stack
from orchestrators.kubeflow_gpu.flavor import DEFAULT_MLFLOW_SECRET, DEFAULT_ZENML_SERVER_SECRET

FLAVOR_SOURCE = "orchestrators.kubeflow_gpu.flavor.KubeflowGPUOrchestratorFlavor"
# Every setting, as k8s/register_stack.sh exports it after checking it and filling in its defaults (the
# script is the one home of the defaults and of the checks).
SETTINGS = (
    "KUBEFLOW_HOST",
    "KUBEFLOW_NAMESPACE",
    "KUBEFLOW_USER_NAMESPACE",
    "KUBEFLOW_RUN_TIMEOUT_S",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_SECRET_NAME",
    "ARTIFACT_STORE_PATH",
    "CONTAINER_REGISTRY_URI",
    "CONTAINER_REGISTRY_FLAVOR",
    "PIPELINE_IMAGE",
    "ZENML_STACK_NAME",
    "ORCHESTRATOR_NAME",
    "EXPERIMENT_TRACKER_NAME",
    "MODEL_REGISTRY_NAME",
    "ARTIFACT_STORE_NAME",
    "CONTAINER_REGISTRY_NAME",
)
OPTIONAL = ("ARTIFACT_STORE_ENDPOINT_URL", "ARTIFACT_STORE_CONNECTOR", "CONTAINER_REGISTRY_CONNECTOR")
# The step pods' credential variables, each from the key of the same name in its Kubernetes Secret
# (k8s/secrets.example.yaml).
ZENML_SECRET_KEYS = ("ZENML_STORE_URL", "ZENML_STORE_API_KEY")
MLFLOW_SECRET_KEYS = ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


class ProductionStackError(ValueError):
    """The environment does not describe a production stack; the message names the variable."""


def production_settings(environment: Mapping[str, str]) -> dict[str, str]:
    """The stack's settings from `environment`, as k8s/register_stack.sh exports them."""
    missing = [name for name in SETTINGS if not environment.get(name)]
    if missing:
        raise ProductionStackError(
            f"environment variable(s) {missing} are not set: run k8s/register_stack.sh, which checks the "
            "environment and fills in the defaults"
        )
    return {name: environment.get(name, "") for name in (*SETTINGS, *OPTIONAL)}


def production_components(settings: Mapping[str, str]) -> list[Component]:
    """The five components of the production stack."""
    path = settings["ARTIFACT_STORE_PATH"]
    store: dict[str, Any] = {"path": path}
    if settings["ARTIFACT_STORE_ENDPOINT_URL"]:
        store["client_kwargs"] = {"endpoint_url": settings["ARTIFACT_STORE_ENDPOINT_URL"]}
    secret = settings["MLFLOW_SECRET_NAME"]
    orchestrator = {
        "kubeflow_hostname": settings["KUBEFLOW_HOST"],
        "kubeflow_namespace": settings["KUBEFLOW_NAMESPACE"],
        "user_namespace": settings["KUBEFLOW_USER_NAMESPACE"],
        "synchronous": True,
        "timeout": int(settings["KUBEFLOW_RUN_TIMEOUT_S"]),
        "image": settings["PIPELINE_IMAGE"],
        "zenml_server_secret": DEFAULT_ZENML_SERVER_SECRET,
        "zenml_server_secret_keys": {key: key for key in ZENML_SECRET_KEYS},
        "mlflow_secret": DEFAULT_MLFLOW_SECRET,
        "mlflow_secret_keys": {key: key for key in MLFLOW_SECRET_KEYS},
    }
    tracker = {
        "tracking_uri": settings["MLFLOW_TRACKING_URI"],
        "tracking_username": f"{{{{{secret}.username}}}}",
        "tracking_password": f"{{{{{secret}.password}}}}",
    }
    return [
        Component(
            "orchestrator",
            settings["ORCHESTRATOR_NAME"],
            "kubeflow_gpu",
            orchestrator,
            flavor_source=FLAVOR_SOURCE,
        ),
        Component("experiment_tracker", settings["EXPERIMENT_TRACKER_NAME"], "mlflow", tracker),
        # The MLflow model registry uses the tracking server of the stack's MLflow experiment tracker.
        Component("model_registry", settings["MODEL_REGISTRY_NAME"], "mlflow"),
        Component(
            "artifact_store",
            settings["ARTIFACT_STORE_NAME"],
            "s3" if path.startswith("s3://") else "gcp",
            store,
            connector=settings["ARTIFACT_STORE_CONNECTOR"] or None,
        ),
        Component(
            "container_registry",
            settings["CONTAINER_REGISTRY_NAME"],
            settings["CONTAINER_REGISTRY_FLAVOR"],
            {"uri": settings["CONTAINER_REGISTRY_URI"]},
            connector=settings["CONTAINER_REGISTRY_CONNECTOR"] or None,
        ),
    ]


def register_production_stack(environment: Mapping[str, str]) -> str:
    """Register (or update) and activate the production stack from `environment`; returns its name."""
    settings = production_settings(environment)
    credentials = {
        "username": settings["MLFLOW_TRACKING_USERNAME"],
        "password": settings["MLFLOW_TRACKING_PASSWORD"],
    }
    upsert_stack(
        settings["ZENML_STACK_NAME"],
        production_components(settings),
        secrets={settings["MLFLOW_SECRET_NAME"]: credentials},
    )
    return settings["ZENML_STACK_NAME"]
