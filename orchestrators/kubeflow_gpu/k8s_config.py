"""A step's `KubernetesPodSettings` as kfp-kubernetes platform config on its KFP task.

KFP 2.x takes no pod spec: each pod feature has its own `kfp.kubernetes` helper writing into the task's
`platform_config["kubernetes"]`. This module applies everything KFP can express and refuses (with
`strict=False`: warns about) the rest, so that no pod setting is dropped silently. Kubernetes objects in the
settings (tolerations, affinity, env, volumes, security context) are read with ZenML's Kubernetes-model
deserialiser, so they take the keys of Kubernetes YAML (camelCase, as ZenML serialises `V1*` models); any
other key is an error naming the step and the key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from kfp import dsl, kubernetes
from zenml.integrations.kubernetes.serialization_utils import deserialize_kubernetes_model

logger = logging.getLogger(__name__)
_IDENTITY = ("run_as_user", "run_as_group", "run_as_non_root")


class UnsupportedPodSettingError(ValueError):
    """A pod setting that Kubeflow Pipelines 2.x (kfp-kubernetes 2.17) cannot express, or a malformed one."""


class _Report:
    """Collects notes; raises or warns for unsupported settings depending on `strict`."""

    def __init__(self, step_name: str, strict: bool) -> None:
        self.step_name = step_name
        self.strict = strict
        self.notes: list[str] = []

    def model(self, value: Mapping[str, Any], class_name: str, what: str) -> Any:
        """`value` as the Kubernetes model `class_name`, or an error naming the step and the bad key."""
        try:
            return deserialize_kubernetes_model(dict(value), class_name)
        except (KeyError, TypeError, ValueError) as error:
            raise UnsupportedPodSettingError(
                f"Step '{self.step_name}': pod setting {what} is not a valid Kubernetes {class_name[2:]} "
                f"({error}); write it as in Kubernetes YAML (camelCase keys)."
            ) from None

    def unsupported(self, what: str) -> None:
        msg = (
            f"Step '{self.step_name}': pod setting {what} cannot be expressed in Kubeflow Pipelines 2.x "
            "(kfp-kubernetes). Remove it, or set `strict_pod_settings: false` to only warn."
        )
        if self.strict:
            raise UnsupportedPodSettingError(msg)
        logger.warning(msg)
        self.notes.append(msg)

    def dropped(self, what: str) -> None:
        msg = f"Step '{self.step_name}' requests no GPU: dropping GPU-only {what}."
        logger.warning(msg)
        self.notes.append(msg)


def _requirements(items: Iterable[Any] | None) -> list[dict[str, Any]]:
    return [{"key": i.key, "operator": i.operator, "values": list(i.values or [])} for i in items or []]


def _apply_affinity(task: dsl.PipelineTask, affinity: Any, report: _Report) -> None:
    if affinity.pod_affinity:
        report.unsupported("affinity.podAffinity")
    if affinity.pod_anti_affinity:
        report.unsupported("affinity.podAntiAffinity")
    node = affinity.node_affinity
    if node is None:
        return
    # Each required term becomes one NodeAffinityTerm without weight; the KFP driver puts them into
    # requiredDuringScheduling...nodeSelectorTerms, which Kubernetes ORs, exactly as in the original object.
    required = node.required_during_scheduling_ignored_during_execution
    for term in required.node_selector_terms if required else []:
        kubernetes.add_node_affinity(
            task,
            match_expressions=_requirements(term.match_expressions),
            match_fields=_requirements(term.match_fields),
        )
    for preferred in node.preferred_during_scheduling_ignored_during_execution or []:
        term = preferred.preference
        kubernetes.add_node_affinity(
            task,
            match_expressions=_requirements(term.match_expressions),
            match_fields=_requirements(term.match_fields),
            weight=int(preferred.weight),
        )


def _apply_env(task: dsl.PipelineTask, env: Iterable[Any], report: _Report) -> None:
    for var in env:
        source = var.value_from
        if source is None:
            task.set_env_variable(name=var.name, value=str(var.value or ""))
        elif ref := source.secret_key_ref:
            kubernetes.use_secret_as_env(
                task,
                secret_name=ref.name,
                secret_key_to_env={ref.key: var.name},
                optional=bool(ref.optional),
            )
        elif ref := source.config_map_key_ref:
            kubernetes.use_config_map_as_env(
                task,
                config_map_name=ref.name,
                config_map_key_to_env={ref.key: var.name},
                optional=bool(ref.optional),
            )
        elif source.field_ref:
            kubernetes.use_field_path_as_env(task, env_name=var.name, field_path=source.field_ref.field_path)
        else:
            report.unsupported(f"env[{var.name}].valueFrom={source.to_dict()}")


def _apply_resources(
    task: dsl.PipelineTask, resources: Mapping[str, Mapping[str, str]], accelerator_type: str, report: _Report
) -> None:
    setters = {
        ("limits", "cpu"): task.set_cpu_limit,
        ("limits", "memory"): task.set_memory_limit,
        ("requests", "cpu"): task.set_cpu_request,
        ("requests", "memory"): task.set_memory_request,
    }
    for section, values in resources.items():
        for resource, quantity in (values or {}).items():
            if resource == accelerator_type:
                # GPUs come from the step's ResourceSettings.gpu_count only, so that exactly one place
                # decides whether a step is a GPU step.
                report.unsupported(
                    f"resources.{section}.{resource} (set `resources: {{gpu_count: N}}` in the step settings)"
                )
            elif (section, resource) in setters:
                setters[(section, resource)](str(quantity))
            else:
                report.unsupported(f"resources.{section}.{resource}")


def _apply_volumes(task: dsl.PipelineTask, volumes: list[Any], mounts: list[Any], report: _Report) -> None:
    by_name = {volume.name: volume for volume in volumes}
    mounted: set[str] = set()
    for mount in mounts:
        volume = by_name.get(mount.name)
        if volume is None:
            report.unsupported(f"volume_mounts[{mount.name}] (no volume of that name)")
            continue
        mounted.add(mount.name)
        path = mount.mount_path
        if pvc := volume.persistent_volume_claim:
            kubernetes.mount_pvc(
                task, pvc_name=pvc.claim_name, mount_path=path, sub_path=mount.sub_path or ""
            )
        elif secret := volume.secret:
            kubernetes.use_secret_as_volume(
                task, secret_name=secret.secret_name, mount_path=path, optional=bool(secret.optional)
            )
        elif config_map := volume.config_map:
            kubernetes.use_config_map_as_volume(
                task, config_map_name=config_map.name, mount_path=path, optional=bool(config_map.optional)
            )
        elif (empty_dir := volume.empty_dir) is not None:
            kubernetes.empty_dir_mount(
                task,
                volume_name=mount.name,
                mount_path=path,
                medium=empty_dir.medium or None,
                size_limit=empty_dir.size_limit,
            )
        else:
            kinds = sorted(key for key, value in volume.to_dict().items() if value and key != "name")
            report.unsupported(f"volumes[{mount.name}] of kind {kinds}")
    for name in set(by_name) - mounted:
        report.unsupported(f"volumes[{name}] (declared but never mounted)")


def _apply_security_context(task: dsl.PipelineTask, context: Any, report: _Report) -> None:
    kubernetes.set_security_context(task, **{field: getattr(context, field) for field in _IDENTITY})
    rest = sorted(
        key
        for field, key in context.attribute_map.items()
        if field not in _IDENTITY and getattr(context, field) is not None
    )
    if rest:
        report.unsupported(f"container_security_context fields {rest}")


def apply_pod_settings(
    task: dsl.PipelineTask,
    pod: Mapping[str, Any],
    *,
    step_name: str,
    gpu: bool,
    accelerator_type: str = "nvidia.com/gpu",
    gpu_toleration_keys: Iterable[str] = ("nvidia.com/gpu",),
    gpu_node_selector_keys: Iterable[str] = ("accelerator",),
    strict: bool = True,
) -> list[str]:
    """Applies one step's pod settings to its KFP task.

    Args:
        task: The KFP task of the step.
        pod: `KubernetesPodSettings.model_dump()` of the step.
        step_name: Step invocation id (for messages).
        gpu: Whether the step requests GPUs. If not, tolerations with a key in `gpu_toleration_keys` and node
            selectors with a key in `gpu_node_selector_keys` are dropped, so that pipeline-level GPU pod
            settings never pin a CPU step to (expensive, tainted) GPU nodes.
        accelerator_type: Kubernetes resource name of the GPU (refused in `pod["resources"]`).
        gpu_toleration_keys: Toleration keys that only GPU pods get.
        gpu_node_selector_keys: Node-selector keys that only GPU pods get.
        strict: Raise `UnsupportedPodSettingError` for settings KFP cannot express instead of warning.

    Returns:
        Notes about dropped or ignored settings (also logged).
    """
    report = _Report(step_name, strict)
    toleration_keys, selector_keys = set(gpu_toleration_keys), set(gpu_node_selector_keys)

    for key, value in (pod.get("node_selectors") or {}).items():
        if not gpu and key in selector_keys:
            report.dropped(f"node selector {key}={value}")
            continue
        kubernetes.add_node_selector(task, label_key=key, label_value=str(value))
    for i, raw in enumerate(pod.get("tolerations") or []):
        toleration = report.model(raw, "V1Toleration", f"tolerations[{i}]")
        if not gpu and toleration.key in toleration_keys:
            report.dropped(f"toleration {dict(raw)}")
            continue
        kubernetes.add_toleration(
            task,
            key=toleration.key,
            operator=toleration.operator,
            value=toleration.value,
            effect=toleration.effect,
            toleration_seconds=toleration.toleration_seconds,
        )
    if pod.get("affinity"):
        _apply_affinity(task, report.model(pod["affinity"], "V1Affinity", "affinity"), report)
    for key, value in (pod.get("labels") or {}).items():
        kubernetes.add_pod_label(task, label_key=key, label_value=str(value))
    for key, value in (pod.get("annotations") or {}).items():
        kubernetes.add_pod_annotation(task, annotation_key=key, annotation_value=str(value))
    env = [report.model(var, "V1EnvVar", f"env[{i}]") for i, var in enumerate(pod.get("env") or [])]
    _apply_env(task, env, report)
    _apply_resources(task, pod.get("resources") or {}, accelerator_type, report)
    volumes = [report.model(v, "V1Volume", f"volumes[{i}]") for i, v in enumerate(pod.get("volumes") or [])]
    mounts = [
        report.model(m, "V1VolumeMount", f"volume_mounts[{i}]")
        for i, m in enumerate(pod.get("volume_mounts") or [])
    ]
    _apply_volumes(task, volumes, mounts, report)
    if pod.get("image_pull_secrets"):
        kubernetes.set_image_pull_secrets(task, secret_names=list(pod["image_pull_secrets"]))
    if pod.get("container_security_context"):
        context = pod["container_security_context"]
        _apply_security_context(
            task, report.model(context, "V1SecurityContext", "container_security_context"), report
        )
    for field, advice in (
        ("env_from", " (use env with valueFrom.secretKeyRef per key)"),
        ("host_ipc", ""),
        ("scheduler_name", ""),
        ("additional_pod_spec_args", ""),
    ):
        if pod.get(field):
            report.unsupported(f"{field}{advice}")
    return report.notes
