"""Flavor, config and settings of the `kubeflow_gpu` orchestrator (subclasses of ZenML 0.92's Kubeflow ones).

* `_validate_and_migrate_pod_settings` is overridden: the stock validator rebuilt `pod_settings` from the
  deprecated top-level `node_selectors`/`node_affinity` on every validation, so a step's `pod_settings` never
  reached the compiled pipeline (docs/design.md §6 (a)). Here those deprecated keys are rejected with an
  error that says where they go in `pod_settings`.
* Settings for what the stock orchestrator could not express: the accelerator resource name, an image that
  skips ZenML's Docker build, the Kubernetes Secrets that carry the ZenML server and MLflow credentials.
* A compile-only mode: the KFP YAML is written to `pipeline_output_path` and nothing is submitted, so it works
  with a local ZenML store and stack.

Register with (from the repository root, so that `orchestrators` is importable):

    zenml orchestrator flavor register orchestrators.kubeflow_gpu.flavor.KubeflowGPUOrchestratorFlavor
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator
from zenml.integrations.kubeflow.flavors.kubeflow_orchestrator_flavor import (
    KubeflowOrchestratorConfig,
    KubeflowOrchestratorFlavor,
    KubeflowOrchestratorSettings,
)
from zenml.utils.pydantic_utils import before_validator_handler

if TYPE_CHECKING:
    from orchestrators.kubeflow_gpu.orchestrator import KubeflowGPUOrchestrator


KUBEFLOW_GPU_ORCHESTRATOR_FLAVOR = "kubeflow_gpu"
#: Settings key of this flavor in a run configuration (`steps.<id>.settings.<key>`).
KUBEFLOW_GPU_SETTINGS_KEY = f"orchestrator.{KUBEFLOW_GPU_ORCHESTRATOR_FLAVOR}"

#: Deprecated top-level settings of the stock flavor -> where the same placement goes in `pod_settings`.
DEPRECATED_KEYS = {
    "node_selectors": "pod_settings.node_selectors",
    "node_affinity": "pod_settings.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution",
}
DEFAULT_ZENML_SERVER_SECRET = "zenml-server-credentials"
DEFAULT_MLFLOW_SECRET = "mlflow-client"


class KubeflowGPUOrchestratorSettings(KubeflowOrchestratorSettings):
    """Per-pipeline and per-step settings (key `orchestrator.kubeflow_gpu`).

    Everything here can also be set on the orchestrator component, which makes it the default for every run.
    """

    accelerator_type: str = Field(
        "nvidia.com/gpu",
        description="Kubernetes extended-resource name that a GPU step's `ResourceSettings.gpu_count` is "
        "requested as (`task.set_accelerator_type`). The KFP driver writes it verbatim into the pod's "
        "`resources.limits`, so it must be a resource name such as `nvidia.com/gpu`, not a node label value; "
        "choose the GPU model with a node selector in `pod_settings`.",
    )
    gpu_toleration_keys: list[str] = Field(
        default_factory=lambda: ["nvidia.com/gpu"],
        description="Toleration keys that only make sense for GPU pods. They are dropped (with a warning) "
        "from steps without GPUs, e.g. when pipeline-level pod settings leak into CPU steps.",
    )
    gpu_node_selector_keys: list[str] = Field(
        default_factory=lambda: [
            "accelerator",
            "nvidia.com/gpu.product",
            "nvidia.com/gpu.present",
            "cloud.google.com/gke-accelerator",
            "karpenter.k8s.aws/instance-gpu-name",
        ],
        description="Node-selector keys that pin a pod to GPU nodes; dropped (with a warning) from CPU steps",
    )
    image: str | None = Field(
        None,
        description="Container image for the step(s). When set at pipeline level ZenML builds no image at "
        "all (no container registry or image builder needed); a step-level value overrides it for that step.",
    )
    strict_pod_settings: bool = Field(
        True,
        description="Raise on pod settings that Kubeflow Pipelines 2.x cannot express (host_ipc, "
        "scheduler_name, additional_pod_spec_args, env_from, ...) instead of logging a warning.",
    )
    zenml_server_secret: str | None = Field(
        DEFAULT_ZENML_SERVER_SECRET,
        description="Kubernetes Secret whose keys (see `zenml_server_secret_keys`) become the step pods' "
        "ZenML server URL and API key. When set, the compiling client's own ZENML_STORE_* variables are "
        "left out of the compiled YAML. Set to null to keep ZenML's default (credentials as plain env).",
    )
    zenml_server_secret_keys: dict[str, str] = Field(
        default_factory=lambda: {
            "ZENML_STORE_URL": "ZENML_STORE_URL",
            "ZENML_STORE_API_KEY": "ZENML_STORE_API_KEY",
        },
        description="Secret data key -> environment variable for `zenml_server_secret` (default: keys named "
        "after the variables, as in k8s/secrets.example.yaml).",
    )
    mlflow_tracking_uri: str | None = Field(
        None,
        description="MLFLOW_TRACKING_URI for the step pods as a plain value; takes precedence over "
        "`mlflow_secret` for that variable.",
    )
    mlflow_secret: str | None = Field(
        DEFAULT_MLFLOW_SECRET,
        description="Kubernetes Secret whose keys (see `mlflow_secret_keys`) become MLflow client variables.",
    )
    mlflow_secret_keys: dict[str, str] = Field(
        default_factory=lambda: {
            key: key
            for key in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
        },
        description="Secret data key -> environment variable for `mlflow_secret` (default: keys named after "
        "the variables, as in k8s/secrets.example.yaml).",
    )
    pipeline_output_path: str | None = Field(
        None,
        description="Where the compiled KFP YAML is written (compile-only mode requires it). A schedule's "
        "recurring-run spec is written next to it as `<stem>.schedule.json`.",
    )
    experiment_name: str | None = Field(
        None, description="KFP experiment for recurring runs; defaults to the pipeline name."
    )
    train_job_output_path: str | None = Field(
        None,
        description="Also write a Kubeflow Trainer TrainJob per GPU step here (multi-document YAML): the step "
        "on `train_job_nodes` pods, one rank per GPU (orchestrators/kubeflow_gpu/train_job.py).",
    )
    train_job_nodes: int = Field(2, ge=1, description="Pods of each TrainJob.")
    train_job_run_id: str | None = Field(
        None, description="The pipeline run (its Kubeflow run id) whose training steps the TrainJobs run."
    )

    # Same name as the stock validator: pydantic replaces a parent's decorated validator by a subclass
    # attribute of the same name, so the stock "rebuild pod_settings from node_selectors" logic never runs.
    @model_validator(mode="before")
    @classmethod
    @before_validator_handler
    def _validate_and_migrate_pod_settings(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Rejects the deprecated top-level selector keys and half-given client credentials. Args: data: The raw settings values."""
        deprecated = sorted(DEPRECATED_KEYS.keys() & data.keys())
        if deprecated:
            moves = "; ".join(f"`{key}` -> `{DEPRECATED_KEYS[key]}`" for key in deprecated)
            raise ValueError(
                f"The Kubeflow settings {deprecated} are deprecated and not supported by the "
                f"{KUBEFLOW_GPU_ORCHESTRATOR_FLAVOR} orchestrator; move them into `pod_settings` ({moves})."
            )
        username, password = data.get("client_username"), data.get("client_password")
        if (username and password is None) or (password and username is None):
            raise ValueError("`client_username` and `client_password` both need to be set together.")
        return data


class KubeflowGPUOrchestratorConfig(KubeflowOrchestratorConfig, KubeflowGPUOrchestratorSettings):
    """Component configuration of the `kubeflow_gpu` orchestrator."""

    compile_only: bool = Field(
        False,
        description="Only compile: write the KFP YAML (and a schedule's recurring-run spec) to "
        "`pipeline_output_path` and contact neither Kubeflow nor a remote ZenML server. Works with a local "
        "ZenML store and a stack without container registry. Runs must have step caching off: a fully "
        "cached run never reaches the orchestrator (client-side caching is disabled in this mode, but "
        "`enable_cache: false` keeps the compiled steps from being skipped at run time as well).",
    )

    @property
    def is_remote(self) -> bool:
        """Remote unless compile-only (compiling needs no remote ZenML server)."""
        return not self.compile_only

    @property
    def supports_client_side_caching(self) -> bool:
        """Client-side caching would prune cached steps from the snapshot and thus from the compiled YAML."""
        return not self.compile_only

    @property
    def is_synchronous(self) -> bool:
        """Compile-only runs return as soon as the YAML is written."""
        return self.synchronous and not self.compile_only


class KubeflowGPUOrchestratorFlavor(KubeflowOrchestratorFlavor):
    """The `kubeflow_gpu` orchestrator flavor."""

    @property
    def name(self) -> str:
        """Flavor name."""
        return KUBEFLOW_GPU_ORCHESTRATOR_FLAVOR

    @property
    def config_class(self) -> type[KubeflowGPUOrchestratorConfig]:
        """Config class."""
        return KubeflowGPUOrchestratorConfig

    @property
    def implementation_class(self) -> type[KubeflowGPUOrchestrator]:
        """Implementation class (imported lazily: it pulls in kfp and the Kubernetes client)."""
        from orchestrators.kubeflow_gpu.orchestrator import KubeflowGPUOrchestrator

        return KubeflowGPUOrchestrator
