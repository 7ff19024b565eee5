"""Offline checks of the production image recipe and the Kubernetes manifests.

Fast, CPU only, no network, no cluster, no Docker engine: every YAML document under k8s/ is
validated against the Kubernetes OpenAPI schemas shipped with `kubernetes-validate` (strict mode,
so unknown or misspelt fields fail), the pod templates are held to the security rules of the
project, the Dockerfile is read as text, and k8s/register_stack.sh is run against a stub `zenml`
that only records its arguments.
"""

from __future__ import annotations

import copy
import os
import re
import shlex
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import all_versions

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
DOCKERFILE = REPO / "Dockerfile"
REGISTER_STACK = K8S / "register_stack.sh"
NAMESPACE = "causal-lattice"
RUN_AS_USER = 10001

# Newest schemas kubernetes-validate 1.37.0 ships, and an older release still in cloud providers'
# extended support, so that nothing newer than what such a cluster accepts slips in.
K8S_VERSIONS = ("1.37.0", "1.31.0")

# Environment variable names that carry credentials: they may only come from a secretKeyRef.
SENSITIVE_ENV = re.compile(
    r"PASSWORD|SECRET|TOKEN|API_KEY|ACCESS_KEY|CREDENTIAL|STORE_URI|STORE_URL|TRACKING_URI"
)
# A URL with a password in it (scheme://user:password@host).
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]+:[^/\s@]+@")


# ------------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------------


def _load_documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.y*ml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path.name, doc))
    return docs


DOCUMENTS = _load_documents()


def _doc_id(item: tuple[str, dict[str, Any]]) -> str:
    name, doc = item
    return f"{name}:{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def _find(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for _, d in DOCUMENTS if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected exactly one {kind} {name or ''} under k8s/, found {len(found)}"
    return found[0]


def _pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    kind = workload["kind"]
    if kind == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if kind in {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}:
        return workload["spec"]["template"]["spec"]
    if kind == "Pod":
        return workload["spec"]
    raise AssertionError(f"not a workload: {kind}")


WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet", "Pod"}
WORKLOADS = [(f, d) for f, d in DOCUMENTS if d["kind"] in WORKLOAD_KINDS]


def _containers(pod_spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from pod_spec.get("initContainers", [])
    yield from pod_spec["containers"]


def _example_secrets() -> dict[str, dict[str, str]]:
    secrets: dict[str, dict[str, str]] = {}
    for doc in yaml.safe_load_all((K8S / "secrets.example.yaml").read_text()):
        if doc and doc["kind"] == "Secret":
            secrets[doc["metadata"]["name"]] = {**doc.get("data", {}), **doc.get("stringData", {})}
    return secrets


_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_SUFFIX = {
    "": 1,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def _quantity(value: str | int | float) -> float:
    match = _QUANTITY.match(str(value))
    assert match and match.group(2) in _SUFFIX, f"cannot parse resource quantity {value!r}"
    return float(match.group(1)) * _SUFFIX[match.group(2)]


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
    }
    assert expected <= kinds, f"missing kinds under k8s/: {sorted(expected - kinds)}"


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_schema_versions_are_shipped(version: str) -> None:
    # validate() silently falls back to an older schema set for an unknown version; make sure the
    # versions this file claims to check are really there.
    assert version in all_versions(), f"kubernetes-validate has no schemas for {version}"


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("item", DOCUMENTS, ids=_doc_id)
def test_manifest_matches_kubernetes_schema(item: tuple[str, dict[str, Any]], version: str) -> None:
    _, doc = item
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        pytest.fail(f"{_doc_id(item)} is invalid for Kubernetes {version} at {path}: {exc.message}")


def test_strict_validation_rejects_a_misspelt_field() -> None:
    # Guards the check above: a typo in a security field must not pass as an unknown extra key.
    broken = copy.deepcopy(_find("CronJob"))
    container = _pod_spec(broken)["containers"][0]
    container["securityContext"]["runAsNonroot"] = container["securityContext"].pop("runAsNonRoot")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[0], strict=True)


@pytest.mark.parametrize("item", DOCUMENTS, ids=_doc_id)
def test_resources_live_in_the_project_namespace(item: tuple[str, dict[str, Any]]) -> None:
    _, doc = item
    if doc["kind"] == "Namespace":
        assert doc["metadata"]["name"] == NAMESPACE
    else:
        assert doc["metadata"].get("namespace") == NAMESPACE, f"{_doc_id(item)} is not in {NAMESPACE}"


# ------------------------------------------------------------------------------------------------
# Pod templates: security, resources, images, secrets
# ------------------------------------------------------------------------------------------------


def test_there_are_workloads_to_check() -> None:
    assert {d["kind"] for _, d in WORKLOADS} >= {"Deployment", "CronJob"}


@pytest.mark.parametrize("item", WORKLOADS, ids=_doc_id)
def test_pod_security_context(item: tuple[str, dict[str, Any]]) -> None:
    pod = _pod_spec(item[1])
    ctx = pod.get("securityContext", {})
    assert ctx.get("runAsNonRoot") is True, "pod securityContext.runAsNonRoot must be true"
    assert isinstance(ctx.get("runAsUser"), int) and ctx["runAsUser"] > 0, (
        "pod needs a numeric non-root runAsUser"
    )
    assert ctx.get("seccompProfile", {}).get("type") == "RuntimeDefault"
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")


@pytest.mark.parametrize("item", WORKLOADS, ids=_doc_id)
def test_container_security_context(item: tuple[str, dict[str, Any]]) -> None:
    pod = _pod_spec(item[1])
    for container in _containers(pod):
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


@pytest.mark.parametrize("item", WORKLOADS, ids=_doc_id)
def test_read_only_containers_get_a_writable_tmp(item: tuple[str, dict[str, Any]]) -> None:
    pod = _pod_spec(item[1])
    empty_dirs = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
    for container in _containers(pod):
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


@pytest.mark.parametrize("item", WORKLOADS, ids=_doc_id)
def test_containers_have_cpu_and_memory_requests_and_limits(item: tuple[str, dict[str, Any]]) -> None:
    for container in _containers(_pod_spec(item[1])):
        resources = container.get("resources", {})
        for resource in ("cpu", "memory"):
            request = resources.get("requests", {}).get(resource)
            limit = resources.get("limits", {}).get(resource)
            assert request is not None, f"{container['name']}: no {resource} request"
            assert limit is not None, f"{container['name']}: no {resource} limit"
            assert _quantity(request) <= _quantity(limit), f"{container['name']}: {resource} request > limit"


@pytest.mark.parametrize("item", WORKLOADS, ids=_doc_id)
def test_images_are_pinned(item: tuple[str, dict[str, Any]]) -> None:
    for container in _containers(_pod_spec(item[1])):
        image = container["image"]
        if "@sha256:" in image:
            continue
        last = image.rsplit("/", 1)[-1]
        assert ":" in last, f"{container['name']}: image {image} has no tag"
        tag = last.rsplit(":", 1)[1]
        assert tag and tag != "latest" and not tag.startswith("latest-"), f"{image} is not pinned"


@pytest.mark.parametrize("item", WORKLOADS, ids=_doc_id)
def test_credentials_only_come_from_secret_key_refs(item: tuple[str, dict[str, Any]]) -> None:
    for container in _containers(_pod_spec(item[1])):
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


@pytest.mark.parametrize("item", WORKLOADS, ids=_doc_id)
def test_secret_references_exist_in_the_example_secrets(item: tuple[str, dict[str, Any]]) -> None:
    # A typo in a Secret name or key would leave the pod in CreateContainerConfigError.
    secrets = _example_secrets()
    example_text = (K8S / "secrets.example.yaml").read_text()
    pod = _pod_spec(item[1])
    for container in _containers(pod):
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
    secrets = _example_secrets()
    assert {"mlflow-backend", "zenml-server-credentials", "mlflow-client"} <= set(secrets)
    assert {"ZENML_STORE_URL", "ZENML_STORE_API_KEY"} <= set(secrets["zenml-server-credentials"])
    assert "MLFLOW_TRACKING_URI" in secrets["mlflow-client"]
    for name, values in secrets.items():
        for key, value in values.items():
            if (SENSITIVE_ENV.search(key) and key != "MLFLOW_TRACKING_URI") or URL_WITH_PASSWORD.search(
                value
            ):
                assert "CHANGE_ME" in value, f"{name}/{key} looks like a real credential, not a placeholder"


# ------------------------------------------------------------------------------------------------
# MLflow server
# ------------------------------------------------------------------------------------------------


def _mlflow() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    deployment = _find("Deployment", "mlflow")
    service = _find("Service", "mlflow")
    container = next(c for c in _pod_spec(deployment)["containers"] if c["name"] == "mlflow")
    return deployment, service, container


def _args(container: dict[str, Any]) -> list[str]:
    return [*container.get("command", []), *container.get("args", [])]


def _flag(args: list[str], flag: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def test_mlflow_server_command() -> None:
    _, _, container = _mlflow()
    args = _args(container)
    assert args[:2] == ["mlflow", "server"]
    assert "--serve-artifacts" in args
    assert _flag(args, "--host") == "0.0.0.0"
    assert _flag(args, "--artifacts-destination") == "$(MLFLOW_ARTIFACTS_DESTINATION)"
    env = {e["name"]: e for e in container["env"]}
    # Kubernetes only expands $(VAR) from variables the container defines.
    assert "MLFLOW_ARTIFACTS_DESTINATION" in env
    # The backend store URI (with the DB password) is read by `mlflow server` from this variable.
    backend = env["MLFLOW_BACKEND_STORE_URI"]["valueFrom"]["secretKeyRef"]
    assert backend["name"] == "mlflow-backend"
    assert _flag(args, "--backend-store-uri") in (None, "$(MLFLOW_BACKEND_STORE_URI)")


def test_mlflow_allowed_hosts_cover_the_service_names_with_port() -> None:
    # MLflow 3 compares the Host header (which includes a non-default port) exactly.
    _, service, container = _mlflow()
    allowed = (_flag(_args(container), "--allowed-hosts") or "").split(",")
    name, port = service["metadata"]["name"], service["spec"]["ports"][0]["port"]
    for host in (
        name,
        f"{name}.{NAMESPACE}",
        f"{name}.{NAMESPACE}.svc",
        f"{name}.{NAMESPACE}.svc.cluster.local",
    ):
        assert f"{host}:{port}" in allowed, f"--allowed-hosts misses {host}:{port}"


def test_mlflow_service_reaches_the_container_and_probes_hit_health() -> None:
    deployment, service, container = _mlflow()
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    for key, value in deployment["spec"]["selector"]["matchLabels"].items():
        assert pod_labels.get(key) == value, "Deployment selector does not match its pod labels"
    for key, value in service["spec"]["selector"].items():
        assert pod_labels.get(key) == value, "Service selector does not match the MLflow pods"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    listen_port = int(_flag(_args(container), "--port") or 5000)
    assert listen_port in ports.values(), "the server listens on a port the container does not expose"
    target = service["spec"]["ports"][0]["targetPort"]
    assert (ports.get(target) if isinstance(target, str) else target) == listen_port
    assert service["spec"]["ports"][0]["port"] == 5000
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    for probe in ("readinessProbe", "livenessProbe"):
        http = container[probe]["httpGet"]
        assert http["path"] == "/health", f"{probe} must check /health"
        port = http["port"]
        assert (ports.get(port) if isinstance(port, str) else port) == listen_port, (
            f"{probe} checks the wrong port"
        )


# ------------------------------------------------------------------------------------------------
# CronJob and RBAC
# ------------------------------------------------------------------------------------------------


def _script_default(variable: str) -> str:
    match = re.search(rf'^{variable}="\${{{variable}:-([^}}]*)}}"', REGISTER_STACK.read_text(), re.M)
    assert match, f"register_stack.sh has no default for {variable}"
    return match.group(1)


def test_cronjob_schedule_policy() -> None:
    cronjob = _find("CronJob")
    spec = cronjob["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec.get("startingDeadlineSeconds", 0) > 0
    assert "successfulJobsHistoryLimit" in spec and "failedJobsHistoryLimit" in spec
    # The submission waits for the run (synchronous orchestrator); the Job must outlive that wait.
    deadline = spec["jobTemplate"]["spec"]["activeDeadlineSeconds"]
    assert deadline > int(_script_default("KUBEFLOW_RUN_TIMEOUT_S"))


def test_cronjob_runs_the_pipeline_on_the_registered_stack() -> None:
    cronjob = _find("CronJob")
    pod = _pod_spec(cronjob)
    (container,) = pod["containers"]
    args = _args(container)
    assert args[:5] == ["python", "-m", "pipelines.retrain", "-c", "zenml_config.yaml"]
    assert container.get("workingDir") == "/app", "zenml_config.yaml is resolved relative to /app"
    stack = _flag(args, "--stack") or _flag(args, "-s")
    assert stack == _script_default("ZENML_STACK_NAME"), (
        "the CronJob must run on the stack the script registers"
    )
    env = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in container["env"]}
    assert env["ZENML_STORE_URL"]["name"] == "zenml-server-credentials"
    assert env["ZENML_STORE_API_KEY"]["name"] == "zenml-server-credentials"
    assert env["MLFLOW_TRACKING_URI"]["name"] == "mlflow-client"


def test_cronjob_service_account_is_bound_to_the_role() -> None:
    pod = _pod_spec(_find("CronJob"))
    account = pod["serviceAccountName"]
    _find("ServiceAccount", account)
    binding = _find("RoleBinding")
    assert binding["roleRef"]["kind"] == "Role"
    _find("Role", binding["roleRef"]["name"])
    assert {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE} in binding["subjects"]


def test_role_is_least_privilege() -> None:
    role = _find("Role", "causal-lattice-runner")
    writes = {"create", "update", "patch", "delete", "deletecollection", "escalate", "bind", "impersonate"}
    for rule in role["rules"]:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], f"wildcard in Role {field}: {rule}"
        if "" in rule["apiGroups"]:
            assert not writes & set(rule["verbs"]), f"the runner must not write core resources: {rule}"
            if "secrets" in rule["resources"]:
                assert rule.get("resourceNames"), "secret access must be limited to named secrets"
    kfp_resources = {
        r
        for rule in role["rules"]
        if "pipelines.kubeflow.org" in rule["apiGroups"]
        for r in rule["resources"]
    }
    assert {"runs", "experiments"} <= kfp_resources, "the runner must be able to submit Kubeflow runs"


# ------------------------------------------------------------------------------------------------
# Dockerfile
# ------------------------------------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def _pip_installs() -> list[str]:
    return [
        cmd.strip()
        for kw, args in _dockerfile_instructions()
        if kw == "RUN"
        for cmd in re.split(r"&&|;", args)
        if re.search(r"\bpip install\b", cmd)
    ]


def test_dockerfile_runs_as_a_numeric_non_root_user() -> None:
    users = [args for kw, args in _dockerfile_instructions() if kw == "USER"]
    assert users, "the Dockerfile sets no USER, so the image runs as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), f"USER {users[-1]} must be numeric, or runAsNonRoot cannot verify it"
    assert int(uid) != 0
    assert int(uid) == RUN_AS_USER, "the image user must match runAsUser in the k8s manifests"


def test_dockerfile_base_image_is_pinned() -> None:
    instructions = _dockerfile_instructions()
    args = dict(a.split("=", 1) for kw, a in instructions if kw == "ARG" and "=" in a)
    for kw, base in instructions:
        if kw != "FROM":
            continue
        image = base.split()[0]
        image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), image)
        assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), (
            f"base image {image} not pinned"
        )


def _constraints_file() -> str:
    for kw, args in _dockerfile_instructions():
        match = re.search(r"requirements\.lock\s*>\s*(\S+)", args)
        if kw == "RUN" and match:
            return match.group(1)
    raise AssertionError("no RUN step writes a constraints file from requirements.lock")


def test_dockerfile_installs_under_the_locked_constraints() -> None:
    constraints = _constraints_file()
    installs = [cmd for cmd in _pip_installs() if not re.search(r"pip install --upgrade \S*pip", cmd)]
    assert installs, "no pip install in the Dockerfile"
    for cmd in installs:
        assert f"-c {constraints}" in cmd, f"pip install without the lock's constraints: {cmd}"
    assert any(re.search(r"-e \"?\.", cmd) for cmd in installs), "the project is not installed with -e ."
    assert any("download.pytorch.org/whl/" in cmd and "torch==2.13.0+" in cmd for cmd in installs), (
        "torch 2.13.0 must come from the PyTorch CUDA index"
    )


def test_dockerfile_lock_rewrite_only_swaps_the_cpu_torch_pin() -> None:
    # Run the Dockerfile's own sed expression over requirements.lock.
    run = next(
        args for kw, args in _dockerfile_instructions() if kw == "RUN" and "requirements.lock >" in args
    )
    sed_cmd = run.split("requirements.lock >")[0].strip()
    sed_cmd = sed_cmd.replace("${TORCH_CUDA}", "cu128")
    argv = shlex.split(sed_cmd) + [str(REPO / "requirements.lock")]
    assert argv[0] == "sed"
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.splitlines()
    lock = (REPO / "requirements.lock").read_text().splitlines()
    changed = [(a, b) for a, b in zip(lock, out, strict=True) if a != b]
    assert changed == [("torch==2.13.0+cpu", "torch==2.13.0+cu128")], changed


def test_every_pyproject_dependency_is_pinned_by_the_lock() -> None:
    # `-c requirements.lock` only pins what the lock lists; an unlisted dependency floats.
    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    locked = {
        norm(line.split("==")[0])
        for line in (REPO / "requirements.lock").read_text().splitlines()
        if "==" in line
    }
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = norm(re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0])
        assert name in locked, f"{requirement} is not pinned in requirements.lock"


COPIED_PATHS = [
    "pyproject.toml",
    "requirements.lock",
    "model",
    "steps",
    "pipelines",
    "materializers",
    "orchestrators",
    "zenml_config.yaml",
]


def _copy_sources() -> set[str]:
    sources: set[str] = set()
    for kw, args in _dockerfile_instructions():
        if kw == "COPY":
            parts = [p for p in args.split() if not p.startswith("--")]
            sources.update(p.rstrip("/").removeprefix("./") for p in parts[:-1])
    return sources


@pytest.mark.parametrize("path", COPIED_PATHS)
def test_dockerfile_copies_the_project(path: str) -> None:
    assert path in _copy_sources(), f"the Dockerfile does not COPY {path}"


@pytest.mark.parametrize("path", COPIED_PATHS)
def test_copied_paths_exist_and_are_not_dockerignored(path: str) -> None:
    ignored = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip()[:1] not in ("", "#")
    ]
    assert path not in ignored and f"{path}/" not in ignored, f".dockerignore hides {path} from COPY"
    if not (REPO / path).exists():
        pytest.skip(f"{path} does not exist yet; `docker build` fails until it does")


def test_dockerignore_keeps_local_state_out() -> None:
    ignored = {line.strip().rstrip("/") for line in (REPO / ".dockerignore").read_text().splitlines()}
    for path in (".venv", "results", "build", ".state", ".git", ".pytest_cache"):
        assert path in ignored, f".dockerignore does not exclude {path}"


def test_pipeline_module_named_by_the_cronjob_exists() -> None:
    module = REPO / "pipelines" / "causal_experiment.py"
    if not module.exists():
        pytest.skip("pipelines/causal_experiment.py does not exist yet")
    assert re.search(
        r"\bdef causal_experiment_pipeline\b|\bcausal_experiment_pipeline\s*=", module.read_text()
    )


# ------------------------------------------------------------------------------------------------
# register_stack.sh
# ------------------------------------------------------------------------------------------------

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

STUB_ZENML = """#!/bin/bash
# Records every call (arguments separated by US, one call per line); never contacts anything.
printf '%s\\x1f' "$@" >> "$ZENML_STUB_LOG"
printf '\\n' >> "$ZENML_STUB_LOG"
for arg in "$@"; do
    case "$arg" in --values=@*) cat "${arg#--values=@}" >> "$ZENML_STUB_SECRETS" ;; esac
done
case " $* " in
    *" describe "* | *" secret get "*) [[ "$ZENML_STUB_EXISTS" == 1 ]] && exit 0 || exit 1 ;;
esac
exit 0
"""


def _run_script(
    tmp_path: Path, env: dict[str, str], exists: bool = False
) -> tuple[subprocess.CompletedProcess[str], list[list[str]], str]:
    stub_dir = tmp_path / "bin"
    stub_dir.mkdir(exist_ok=True)
    stub = stub_dir / "zenml"
    stub.write_text(STUB_ZENML)
    stub.chmod(0o755)
    log, secrets = tmp_path / "zenml.log", tmp_path / "secrets.log"
    log.write_text("")
    secrets.write_text("")
    full_env = {
        "PATH": f"{stub_dir}:/usr/bin:/bin",
        "ZENML_STUB_LOG": str(log),
        "ZENML_STUB_SECRETS": str(secrets),
        "ZENML_STUB_EXISTS": "1" if exists else "0",
        **env,
    }
    result = subprocess.run(
        ["/bin/bash", str(REGISTER_STACK)], env=full_env, capture_output=True, text=True, timeout=60
    )
    calls = [line.split("\x1f")[:-1] for line in log.read_text().splitlines()]
    return result, calls, secrets.read_text()


def test_register_stack_script_parses() -> None:
    result = subprocess.run(["bash", "-n", str(REGISTER_STACK)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert os.access(REGISTER_STACK, os.X_OK), "register_stack.sh is not executable"
    assert "set -euo pipefail" in REGISTER_STACK.read_text()


def test_register_stack_with_empty_env_names_every_missing_variable(tmp_path: Path) -> None:
    result, calls, _ = _run_script(tmp_path, {})
    assert result.returncode != 0
    for name in REQUIRED_ENV:
        assert name in result.stderr, f"stderr does not name {name}: {result.stderr}"
    assert calls == [], "zenml was called before the environment check"
    # A literally empty environment (no PATH, no HOME) gives the same clear message.
    bare = subprocess.run(
        ["/bin/bash", str(REGISTER_STACK)], env={}, capture_output=True, text=True, timeout=60
    )
    assert bare.returncode != 0
    assert all(name in bare.stderr for name in REQUIRED_ENV), bare.stderr


@pytest.mark.parametrize("missing", sorted(REQUIRED_ENV))
def test_register_stack_names_a_single_missing_variable(tmp_path: Path, missing: str) -> None:
    env = {k: v for k, v in REQUIRED_ENV.items() if k != missing}
    result, calls, _ = _run_script(tmp_path, env)
    assert result.returncode != 0
    assert missing in result.stderr
    assert not [n for n in REQUIRED_ENV if n != missing and f"{n}:" in result.stderr], (
        "reports a variable that is set"
    )
    assert calls == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ARTIFACT_STORE_PATH", "bucket/zenml"),
        ("MLFLOW_TRACKING_URI", "mlflow:5000"),
        ("KUBEFLOW_HOST", "kubeflow"),
        ("PIPELINE_IMAGE", "registry.example.com/causal-lattice/causal-lattice:latest"),
        ("PIPELINE_IMAGE", "causal-lattice"),
    ],
)
def test_register_stack_rejects_malformed_values_before_zenml(
    tmp_path: Path, variable: str, value: str
) -> None:
    result, calls, _ = _run_script(tmp_path, {**REQUIRED_ENV, variable: value})
    assert result.returncode != 0
    assert variable in result.stderr
    assert calls == []


def _call_index(calls: list[list[str]], *prefix: str) -> int:
    for i, call in enumerate(calls):
        if call[: len(prefix)] == list(prefix):
            return i
    raise AssertionError(f"no `zenml {' '.join(prefix)}` call in {calls}")


def test_register_stack_registers_the_production_stack(tmp_path: Path) -> None:
    result, calls, secret_values = _run_script(tmp_path, REQUIRED_ENV)
    assert result.returncode == 0, result.stderr

    flavor = _call_index(calls, "orchestrator", "flavor", "register")
    assert calls[flavor][3] == "orchestrators.kubeflow_gpu.flavor.KubeflowGPUOrchestratorFlavor"
    registers = [i for i, c in enumerate(calls) if "register" in c[:2]]
    assert flavor < min(registers), "the custom flavor must be registered before any component"

    def register_call(group: str) -> list[str]:
        return calls[_call_index(calls, group, "register")]

    orchestrator = register_call("orchestrator")
    assert "--flavor=kubeflow_gpu" in orchestrator
    assert f"--kubeflow_hostname={REQUIRED_ENV['KUBEFLOW_HOST']}" in orchestrator
    # The step pods run the pinned project image; ZenML must not try to build one.
    assert f"--image={REQUIRED_ENV['PIPELINE_IMAGE']}" in orchestrator
    assert "--synchronous=true" in orchestrator
    # The Kubernetes Secrets the orchestrator injects into the step pods exist, with those keys.
    secrets = _example_secrets()
    for secret_flag, keys_flag in [
        ("--zenml_server_secret", "--zenml_server_secret_keys"),
        ("--mlflow_secret", "--mlflow_secret_keys"),
    ]:
        secret_name = _flag(orchestrator, secret_flag)
        assert secret_name in secrets, f"{secret_flag}={secret_name} is not in secrets.example.yaml"
        key_to_env = yaml.safe_load(_flag(orchestrator, keys_flag) or "{}")
        assert key_to_env and set(key_to_env) <= set(secrets[secret_name]), f"{keys_flag}: unknown keys"
    tracker = register_call("experiment-tracker")
    assert "--flavor=mlflow" in tracker
    assert f"--tracking_uri={REQUIRED_ENV['MLFLOW_TRACKING_URI']}" in tracker
    assert any(re.fullmatch(r"--tracking_password=\{\{\w+\.password\}\}", a) for a in tracker)
    assert "--flavor=mlflow" in register_call("model-registry")
    store = register_call("artifact-store")
    assert "--flavor=s3" in store and f"--path={REQUIRED_ENV['ARTIFACT_STORE_PATH']}" in store
    assert f"--uri={REQUIRED_ENV['CONTAINER_REGISTRY_URI']}" in register_call("container-registry")

    stack = register_call("stack")
    assert stack[2] == _script_default("ZENML_STACK_NAME")
    assert "--set" in stack
    for option, name in [
        ("--orchestrator", orchestrator[2]),
        ("--experiment_tracker", tracker[2]),
        ("--model_registry", register_call("model-registry")[2]),
        ("--artifact-store", store[2]),
        ("--container_registry", register_call("container-registry")[2]),
    ]:
        assert _flag(stack, option) == name, f"stack {option} is not {name}"
    assert calls[-1][:2] == ["stack", "register"], (
        "the stack is registered last, from the finished components"
    )

    # The MLflow password reaches ZenML through a secrets file, never through argv.
    password = REQUIRED_ENV["MLFLOW_TRACKING_PASSWORD"]
    assert not any(password in arg for call in calls for arg in call)
    stored = yaml.safe_load(secret_values)
    assert stored == {"username": REQUIRED_ENV["MLFLOW_TRACKING_USERNAME"], "password": password}


def test_register_stack_uses_the_gcp_flavor_for_gs_paths(tmp_path: Path) -> None:
    result, calls, _ = _run_script(tmp_path, {**REQUIRED_ENV, "ARTIFACT_STORE_PATH": "gs://bucket/zenml"})
    assert result.returncode == 0, result.stderr
    assert "--flavor=gcp" in calls[_call_index(calls, "artifact-store", "register")]


def test_register_stack_updates_what_already_exists(tmp_path: Path) -> None:
    result, calls, _ = _run_script(tmp_path, REQUIRED_ENV, exists=True)
    assert result.returncode == 0, result.stderr
    assert not [c for c in calls if "register" in c[:3]], "re-running must not register anything twice"
    for group in (
        "orchestrator",
        "experiment-tracker",
        "model-registry",
        "artifact-store",
        "container-registry",
    ):
        _call_index(calls, group, "update")
    _call_index(calls, "secret", "update")
    _call_index(calls, "stack", "update")
    _call_index(calls, "stack", "set")
