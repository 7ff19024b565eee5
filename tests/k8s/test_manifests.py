"""Offline checks of the Kubernetes manifests under k8s/.

Fast, CPU only, no network, no cluster: every YAML document under k8s/ is validated against the Kubernetes
OpenAPI schemas shipped with `kubernetes-validate` (strict mode, so unknown or misspelt fields fail), and the
pod templates are held to the security rules of the project.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import kubernetes_validate
import pytest
from kubernetes_validate.utils import all_versions

from tests.k8s.k8s_testlib import (
    DOCUMENTS,
    K8S,
    K8S_VERSIONS,
    NAMESPACE,
    RUN_AS_USER,
    SENSITIVE_ENV,
    URL_WITH_PASSWORD,
    WORKLOADS,
    containers,
    doc_id,
    example_secrets,
    find,
    pod_spec,
    quantity,
)

# ------------------------------------------------------------------------------------------------
# Schema validation
# ------------------------------------------------------------------------------------------------


def test_manifests_exist() -> None:
    kinds = {d["kind"] for _, d in DOCUMENTS}
    expected = {
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "Deployment",
        "Service",
        "Secret",
        "CronJob",
        "NetworkPolicy",
    }
    assert expected <= kinds, f"missing kinds under k8s/: {sorted(expected - kinds)}"


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_schema_versions_are_shipped(version: str) -> None:
    # validate() silently falls back to an older schema set for an unknown version; make sure the
    # versions this file claims to check are really there.
    assert version in all_versions(), f"kubernetes-validate has no schemas for {version}"


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("item", DOCUMENTS, ids=doc_id)
def test_manifest_matches_kubernetes_schema(item: tuple[str, dict[str, Any]], version: str) -> None:
    _, doc = item
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        pytest.fail(f"{doc_id(item)} is invalid for Kubernetes {version} at {path}: {exc.message}")


def test_strict_validation_rejects_a_misspelt_field() -> None:
    # Guards the check above: a typo in a security field must not pass as an unknown extra key.
    broken = copy.deepcopy(find("CronJob"))
    container = pod_spec(broken)["containers"][0]
    container["securityContext"]["runAsNonroot"] = container["securityContext"].pop("runAsNonRoot")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[0], strict=True)


@pytest.mark.parametrize("item", DOCUMENTS, ids=doc_id)
def test_resources_live_in_the_project_namespace(item: tuple[str, dict[str, Any]]) -> None:
    _, doc = item
    if doc["kind"] == "Namespace":
        assert doc["metadata"]["name"] == NAMESPACE
    else:
        assert doc["metadata"].get("namespace") == NAMESPACE, f"{doc_id(item)} is not in {NAMESPACE}"


# ------------------------------------------------------------------------------------------------
# Pod templates: security, resources, images, secrets
# ------------------------------------------------------------------------------------------------


def test_there_are_workloads_to_check() -> None:
    assert {d["kind"] for _, d in WORKLOADS} >= {"Deployment", "CronJob"}


@pytest.mark.parametrize("item", WORKLOADS, ids=doc_id)
def test_pod_security_context(item: tuple[str, dict[str, Any]]) -> None:
    pod = pod_spec(item[1])
    ctx = pod.get("securityContext", {})
    assert ctx.get("runAsNonRoot") is True, "pod securityContext.runAsNonRoot must be true"
    assert isinstance(ctx.get("runAsUser"), int) and ctx["runAsUser"] > 0, (
        "pod needs a numeric non-root runAsUser"
    )
    assert ctx.get("seccompProfile", {}).get("type") == "RuntimeDefault"
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")


@pytest.mark.parametrize("item", WORKLOADS, ids=doc_id)
def test_container_security_context(item: tuple[str, dict[str, Any]]) -> None:
    pod = pod_spec(item[1])
    for container in containers(pod):
        name = container["name"]
        ctx = container.get("securityContext", {})
        assert ctx.get("allowPrivilegeEscalation") is False, f"{name}: allowPrivilegeEscalation must be false"
        assert ctx.get("privileged", False) is False, f"{name}: must not be privileged"
        assert "ALL" in ctx.get("capabilities", {}).get("drop", []), f"{name}: capabilities must drop ALL"
        assert not ctx.get("capabilities", {}).get("add"), f"{name}: must not add capabilities"
        run_as_non_root = ctx.get("runAsNonRoot", pod.get("securityContext", {}).get("runAsNonRoot"))
        assert run_as_non_root is True, f"{name}: runAsNonRoot must be true"
        assert ctx.get("runAsUser", RUN_AS_USER) != 0, f"{name}: must not run as uid 0"
        assert ctx.get("readOnlyRootFilesystem") is True, f"{name}: root filesystem must be read-only"


@pytest.mark.parametrize("item", WORKLOADS, ids=doc_id)
def test_read_only_containers_get_a_writable_tmp(item: tuple[str, dict[str, Any]]) -> None:
    pod = pod_spec(item[1])
    empty_dirs = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
    for container in containers(pod):
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        assert mounts.get("/tmp") in empty_dirs, f"{container['name']}: /tmp must be an emptyDir"
        for env in container.get("env", []):
            if env["name"] in {"HOME", "TMPDIR", "ZENML_CONFIG_PATH", "MPLCONFIGDIR"}:
                value = env["value"]
                assert any(
                    value == path or value.startswith(path.rstrip("/") + "/")
                    for path, vol in mounts.items()
                    if vol in empty_dirs
                ), f"{container['name']}: {env['name']}={value} is not on a writable emptyDir"


@pytest.mark.parametrize("item", WORKLOADS, ids=doc_id)
def test_containers_have_cpu_and_memory_requests_and_limits(item: tuple[str, dict[str, Any]]) -> None:
    for container in containers(pod_spec(item[1])):
        resources = container.get("resources", {})
        for resource in ("cpu", "memory"):
            request = resources.get("requests", {}).get(resource)
            limit = resources.get("limits", {}).get(resource)
            assert request is not None, f"{container['name']}: no {resource} request"
            assert limit is not None, f"{container['name']}: no {resource} limit"
            assert quantity(request) <= quantity(limit), f"{container['name']}: {resource} request > limit"


@pytest.mark.parametrize("item", WORKLOADS, ids=doc_id)
def test_images_are_pinned(item: tuple[str, dict[str, Any]]) -> None:
    for container in containers(pod_spec(item[1])):
        image = container["image"]
        if "@sha256:" in image:
            continue
        last = image.rsplit("/", 1)[-1]
        assert ":" in last, f"{container['name']}: image {image} has no tag"
        tag = last.rsplit(":", 1)[1]
        assert tag and tag != "latest" and not tag.startswith("latest-"), f"{image} is not pinned"


@pytest.mark.parametrize("item", WORKLOADS, ids=doc_id)
def test_no_service_account_token_and_images_pulled_with_the_pods_credentials(
    item: tuple[str, dict[str, Any]],
) -> None:
    # Neither workload calls the Kubernetes API (the CronJob authenticates to Kubeflow Pipelines with its
    # projected token only); Always makes the registry check this pod's pull credentials on every start.
    pod = pod_spec(item[1])
    assert pod.get("automountServiceAccountToken") is False, f"{doc_id(item)} mounts a service-account token"
    for container in containers(pod):
        assert container.get("imagePullPolicy") == "Always", container["name"]


@pytest.mark.parametrize("item", DOCUMENTS, ids=doc_id)
def test_every_checkov_skip_names_its_check_and_says_why(item: tuple[str, dict[str, Any]]) -> None:
    for key, value in item[1]["metadata"].get("annotations", {}).items():
        if key.startswith("checkov.io/skip"):
            # checkov splits the value at '=' once: CHECK_ID=reason.
            check, reason = value.split("=")
            assert re.fullmatch(r"CKV2?_K8S_\d+", check) and len(reason.split()) >= 5, value


@pytest.mark.parametrize("item", WORKLOADS, ids=doc_id)
def test_credentials_only_come_from_secret_key_refs(item: tuple[str, dict[str, Any]]) -> None:
    for container in containers(pod_spec(item[1])):
        name = container["name"]
        assert not any("secretRef" in e for e in container.get("envFrom", [])), (
            f"{name}: use explicit secretKeyRef entries, not envFrom secretRef"
        )
        for env in container.get("env", []):
            if "value" in env:
                # *_PATH / *_FILE name where a credential is mounted, not the credential itself.
                is_location = env["name"].endswith(("_PATH", "_FILE"))
                assert is_location or not SENSITIVE_ENV.search(env["name"]), (
                    f"{name}: {env['name']} is a credential but has a literal value"
                )
                assert not URL_WITH_PASSWORD.search(str(env["value"])), (
                    f"{name}: {env['name']} embeds a password"
                )
            else:
                source = env.get("valueFrom", {})
                assert "secretKeyRef" in source or "fieldRef" in source or "resourceFieldRef" in source, (
                    f"{name}: {env['name']} has neither a value nor a supported valueFrom"
                )
        for arg in [*container.get("command", []), *container.get("args", [])]:
            assert not URL_WITH_PASSWORD.search(arg), f"{name}: a command-line argument embeds a password"


@pytest.mark.parametrize("item", WORKLOADS, ids=doc_id)
def test_secret_references_exist_in_theexample_secrets(item: tuple[str, dict[str, Any]]) -> None:
    # A typo in a Secret name or key would leave the pod in CreateContainerConfigError.
    secrets = example_secrets()
    example_text = (K8S / "secrets.example.yaml").read_text()
    pod = pod_spec(item[1])
    for container in containers(pod):
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref is None:
                continue
            assert ref["name"] in secrets, (
                f"{env['name']}: Secret {ref['name']} is not in secrets.example.yaml"
            )
            if ref.get("optional") and ref["key"] not in secrets[ref["name"]]:
                # An optional key may be left out of the example, but it must be documented there.
                assert f"# {ref['key']}:" in example_text, f"optional key {ref['key']} is not documented"
                continue
            assert ref["key"] in secrets[ref["name"]], f"{env['name']}: {ref['name']} has no key {ref['key']}"
    for volume in pod.get("volumes", []):
        if "secret" in volume:
            name = volume["secret"]["secretName"]
            assert name in secrets, f"volume {volume['name']}: Secret {name} is not in secrets.example.yaml"
            for key_item in volume["secret"].get("items", []):
                assert key_item["key"] in secrets[name], f"volume {volume['name']}: {name} has no key"


def test_example_secrets_hold_only_placeholders() -> None:
    text = (K8S / "secrets.example.yaml").read_text()
    assert "EXAMPLE ONLY" in text.splitlines()[0], "secrets.example.yaml must say it is an example first"
    secrets = example_secrets()
    assert {"mlflow-backend", "zenml-server-credentials", "mlflow-client"} <= set(secrets)
    assert {"ZENML_STORE_URL", "ZENML_STORE_API_KEY"} <= set(secrets["zenml-server-credentials"])
    assert "MLFLOW_TRACKING_URI" in secrets["mlflow-client"]
    for name, values in secrets.items():
        for key, value in values.items():
            if (SENSITIVE_ENV.search(key) and key != "MLFLOW_TRACKING_URI") or URL_WITH_PASSWORD.search(
                value
            ):
                assert "CHANGE_ME" in value, f"{name}/{key} looks like a real credential, not a placeholder"
