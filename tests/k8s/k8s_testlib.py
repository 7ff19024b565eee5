"""Shared loading helpers for the offline checks of k8s/, the Dockerfile and k8s/register_stack.sh."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

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


def load_documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.y*ml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path.name, doc))
    return docs


DOCUMENTS = load_documents()


def doc_id(item: tuple[str, dict[str, Any]]) -> str:
    name, doc = item
    return f"{name}:{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def find(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for _, d in DOCUMENTS if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected exactly one {kind} {name or ''} under k8s/, found {len(found)}"
    return found[0]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
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


def containers(pod_spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from pod_spec.get("initContainers", [])
    yield from pod_spec["containers"]


def example_secrets() -> dict[str, dict[str, str]]:
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


def quantity(value: str | int | float) -> float:
    match = _QUANTITY.match(str(value))
    assert match and match.group(2) in _SUFFIX, f"cannot parse resource quantity {value!r}"
    return float(match.group(1)) * _SUFFIX[match.group(2)]


def container_args(container: dict[str, Any]) -> list[str]:
    return [*container.get("command", []), *container.get("args", [])]


def flag(args: list[str], flag: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def script_default(variable: str) -> str:
    match = re.search(rf'^{variable}="\${{{variable}:-([^}}]*)}}"', REGISTER_STACK.read_text(), re.M)
    assert match, f"register_stack.sh has no default for {variable}"
    return match.group(1)
