"""Translate a step's `KubernetesPodSettings` into kfp-kubernetes platform config on a KFP task.

KFP 2.x does not take a pod spec: each pod feature has its own `kfp.kubernetes` helper that writes into the
task's `platform_config["kubernetes"]` (a `KubernetesExecutorConfig`). The stock ZenML orchestrator only
looked at the `accelerator` node selector; this module applies everything KFP can express, and refuses (or,
with `strict=False`, warns about) the rest, so that no pod setting is dropped silently.

The functions take the pod settings as a plain dict (`KubernetesPodSettings.model_dump()`), so they are usable
and testable without a ZenML client. Kubernetes objects inside (tolerations, affinity, env, volumes) are
accepted in camelCase (how ZenML serialises `V1*` models) or snake_case.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from kfp import dsl, kubernetes

logger = logging.getLogger(__name__)


class UnsupportedPodSettingError(ValueError):
    """A pod setting that Kubeflow Pipelines 2.x (kfp-kubernetes 2.17) cannot express."""


def _get(obj: Mapping[str, Any], camel: str, default: Any = None) -> Any:
    """Reads a Kubernetes field given in camelCase or snake_case."""
    if camel in obj:
        return obj[camel]
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return obj.get(snake, default)


class _Report:
    """Collects notes; raises or warns for unsupported settings depending on `strict`."""

    def __init__(self, step_name: str, strict: bool) -> None:
        self.step_name = step_name
        self.strict = strict
        self.notes: list[str] = []

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


def _match_terms(term: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    def conv(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [
            {"key": i["key"], "operator": i["operator"], "values": list(i.get("values") or [])} for i in items
        ]

    return conv(_get(term, "matchExpressions") or []), conv(_get(term, "matchFields") or [])


def _apply_affinity(task: dsl.PipelineTask, affinity: Mapping[str, Any], report: _Report) -> None:
    for kind in ("podAffinity", "podAntiAffinity"):
        if _get(affinity, kind):
            report.unsupported(f"affinity.{kind}")
    node_affinity = _get(affinity, "nodeAffinity") or {}
    required = _get(node_affinity, "requiredDuringSchedulingIgnoredDuringExecution") or {}
    # Each term becomes one NodeAffinityTerm without weight; the KFP driver puts them into
    # requiredDuringScheduling...nodeSelectorTerms, which Kubernetes ORs, exactly as in the original object.
    for term in _get(required, "nodeSelectorTerms") or []:
        expressions, fields = _match_terms(term)
        kubernetes.add_node_affinity(task, match_expressions=expressions, match_fields=fields)
    for preferred in _get(node_affinity, "preferredDuringSchedulingIgnoredDuringExecution") or []:
        expressions, fields = _match_terms(_get(preferred, "preference") or {})
        kubernetes.add_node_affinity(
            task, match_expressions=expressions, match_fields=fields, weight=int(preferred["weight"])
        )


def _apply_env(task: dsl.PipelineTask, env: Iterable[Mapping[str, Any]], report: _Report) -> None:
    for var in env:
        name = var["name"]
        value_from = _get(var, "valueFrom")
        if not value_from:
            task.set_env_variable(name=name, value=str(var.get("value", "")))
            continue
        if secret_ref := _get(value_from, "secretKeyRef"):
            kubernetes.use_secret_as_env(
                task,
                secret_name=secret_ref["name"],
                secret_key_to_env={secret_ref["key"]: name},
                optional=bool(secret_ref.get("optional", False)),
            )
        elif cm_ref := _get(value_from, "configMapKeyRef"):
            kubernetes.use_config_map_as_env(
                task,
                config_map_name=cm_ref["name"],
                config_map_key_to_env={cm_ref["key"]: name},
                optional=bool(cm_ref.get("optional", False)),
            )
        elif field_ref := _get(value_from, "fieldRef"):
            kubernetes.use_field_path_as_env(task, env_name=name, field_path=_get(field_ref, "fieldPath"))
        else:
            report.unsupported(f"env[{name}].valueFrom={dict(value_from)}")


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


def _apply_volumes(
    task: dsl.PipelineTask,
    volumes: Iterable[Mapping[str, Any]],
    mounts: Iterable[Mapping[str, Any]],
    report: _Report,
) -> None:
    by_name = {v["name"]: v for v in volumes}
    mounted: set[str] = set()
    for mount in mounts:
        name, path = mount["name"], _get(mount, "mountPath")
        volume = by_name.get(name)
        if volume is None:
            report.unsupported(f"volume_mounts[{name}] (no volume of that name)")
            continue
        mounted.add(name)
        if pvc := _get(volume, "persistentVolumeClaim"):
            kubernetes.mount_pvc(
                task, pvc_name=_get(pvc, "claimName"), mount_path=path, sub_path=_get(mount, "subPath", "")
            )
        elif secret := volume.get("secret"):
            kubernetes.use_secret_as_volume(
                task,
                secret_name=_get(secret, "secretName"),
                mount_path=path,
                optional=bool(secret.get("optional", False)),
            )
        elif config_map := _get(volume, "configMap"):
            kubernetes.use_config_map_as_volume(
                task,
                config_map_name=config_map["name"],
                mount_path=path,
                optional=bool(config_map.get("optional", False)),
            )
        elif (empty_dir := _get(volume, "emptyDir")) is not None:
            kubernetes.empty_dir_mount(
                task,
                volume_name=name,
                mount_path=path,
                medium=empty_dir.get("medium") or None,
                size_limit=_get(empty_dir, "sizeLimit"),
            )
        else:
            report.unsupported(f"volumes[{name}] of kind {sorted(set(volume) - {'name'})}")
    for name in set(by_name) - mounted:
        report.unsupported(f"volumes[{name}] (declared but never mounted)")


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

    for toleration in pod.get("tolerations") or []:
        if not gpu and toleration.get("key") in toleration_keys:
            report.dropped(f"toleration {dict(toleration)}")
            continue
        seconds = _get(toleration, "tolerationSeconds")
        kubernetes.add_toleration(
            task,
            key=toleration.get("key"),
            operator=toleration.get("operator"),
            value=toleration.get("value"),
            effect=toleration.get("effect"),
            toleration_seconds=int(seconds) if seconds is not None else None,
        )

    if pod.get("affinity"):
        _apply_affinity(task, pod["affinity"], report)
    for key, value in (pod.get("labels") or {}).items():
        kubernetes.add_pod_label(task, label_key=key, label_value=str(value))
    for key, value in (pod.get("annotations") or {}).items():
        kubernetes.add_pod_annotation(task, annotation_key=key, annotation_value=str(value))
    _apply_env(task, pod.get("env") or [], report)
    _apply_resources(task, pod.get("resources") or {}, accelerator_type, report)
    _apply_volumes(task, pod.get("volumes") or [], pod.get("volume_mounts") or [], report)
    if pod.get("image_pull_secrets"):
        kubernetes.set_image_pull_secrets(task, secret_names=list(pod["image_pull_secrets"]))

    security = dict(pod.get("container_security_context") or {})
    if security:
        identity = {
            "run_as_user": _get(security, "runAsUser"),
            "run_as_group": _get(security, "runAsGroup"),
            "run_as_non_root": _get(security, "runAsNonRoot"),
        }
        kubernetes.set_security_context(task, **identity)
        rest = {
            k
            for k in security
            if k not in {"runAsUser", "run_as_user", "runAsGroup", "run_as_group"}
            and k not in {"runAsNonRoot", "run_as_non_root"}
        }
        if rest:
            report.unsupported(f"container_security_context fields {sorted(rest)}")

    if pod.get("env_from"):
        report.unsupported("env_from (use env with valueFrom.secretKeyRef per key)")
    if pod.get("host_ipc"):
        report.unsupported("host_ipc")
    if pod.get("scheduler_name"):
        report.unsupported("scheduler_name")
    if pod.get("additional_pod_spec_args"):
        report.unsupported(f"additional_pod_spec_args {sorted(pod['additional_pod_spec_args'])}")
    return report.notes
