"""Offline checks of the two workloads under k8s/: the MLflow server and the retraining CronJob (with its RBAC)."""

from __future__ import annotations

from typing import Any

from tests.k8s.k8s_testlib import (
    NAMESPACE,
    container_args,
    find,
    flag,
    pod_spec,
    script_default,
)

# ------------------------------------------------------------------------------------------------
# MLflow server
# ------------------------------------------------------------------------------------------------


def _mlflow() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    deployment = find("Deployment", "mlflow")
    service = find("Service", "mlflow")
    container = next(c for c in pod_spec(deployment)["containers"] if c["name"] == "mlflow")
    return deployment, service, container


def test_mlflow_server_command() -> None:
    _, _, container = _mlflow()
    args = container_args(container)
    assert args[:2] == ["mlflow", "server"]
    assert "--serve-artifacts" in args
    assert flag(args, "--host") == "0.0.0.0"
    assert flag(args, "--artifacts-destination") == "$(MLFLOW_ARTIFACTS_DESTINATION)"
    env = {e["name"]: e for e in container["env"]}
    # Kubernetes only expands $(VAR) from variables the container defines.
    assert "MLFLOW_ARTIFACTS_DESTINATION" in env
    # The backend store URI (with the DB password) is read by `mlflow server` from this variable.
    backend = env["MLFLOW_BACKEND_STORE_URI"]["valueFrom"]["secretKeyRef"]
    assert backend["name"] == "mlflow-backend"
    assert flag(args, "--backend-store-uri") in (None, "$(MLFLOW_BACKEND_STORE_URI)")


def test_mlflow_allowed_hosts_cover_the_service_names_with_port() -> None:
    # MLflow 3 compares the Host header (which includes a non-default port) exactly.
    _, service, container = _mlflow()
    allowed = (flag(container_args(container), "--allowed-hosts") or "").split(",")
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
    listen_port = int(flag(container_args(container), "--port") or 5000)
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


def test_cronjob_schedule_policy() -> None:
    cronjob = find("CronJob")
    spec = cronjob["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec.get("startingDeadlineSeconds", 0) > 0
    assert "successfulJobsHistoryLimit" in spec and "failedJobsHistoryLimit" in spec
    # The submission waits for the run (synchronous orchestrator); the Job must outlive that wait.
    deadline = spec["jobTemplate"]["spec"]["activeDeadlineSeconds"]
    assert deadline > int(script_default("KUBEFLOW_RUN_TIMEOUT_S"))


def test_cronjob_runs_the_pipeline_on_the_registered_stack() -> None:
    cronjob = find("CronJob")
    pod = pod_spec(cronjob)
    (container,) = pod["containers"]
    args = container_args(container)
    assert args[:4] == ["causal-lattice", "retrain", "-c", "zenml_config.yaml"]
    assert container.get("workingDir") == "/app", "zenml_config.yaml is resolved relative to /app"
    stack = flag(args, "--stack") or flag(args, "-s")
    assert stack == script_default("ZENML_STACK_NAME"), (
        "the CronJob must run on the stack the script registers"
    )
    env = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in container["env"]}
    assert env["ZENML_STORE_URL"]["name"] == "zenml-server-credentials"
    assert env["ZENML_STORE_API_KEY"]["name"] == "zenml-server-credentials"
    # MLflow is reached through the stack's tracker (its credentials in a ZenML secret), not from the pod's env.
    assert not [name for name in env if name.startswith("MLFLOW_")]


def test_cronjob_service_account_is_bound_to_the_role() -> None:
    pod = pod_spec(find("CronJob"))
    account = pod["serviceAccountName"]
    find("ServiceAccount", account)
    binding = find("RoleBinding")
    assert binding["roleRef"]["kind"] == "Role"
    find("Role", binding["roleRef"]["name"])
    assert {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE} in binding["subjects"]


def test_role_is_least_privilege() -> None:
    role = find("Role", "causal-lattice-runner")
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
# NetworkPolicy in front of MLflow
# ------------------------------------------------------------------------------------------------


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def test_network_policy_admits_only_the_namespaces_pipeline_pods_to_mlflow() -> None:
    policy = find("NetworkPolicy", "mlflow")
    deployment, _, container = _mlflow()
    spec = policy["spec"]
    assert _matches(spec["podSelector"]["matchLabels"], deployment["spec"]["template"]["metadata"]["labels"])
    assert spec["policyTypes"] == ["Ingress"]
    (rule,) = spec["ingress"]
    (peer,) = rule["from"]
    # A podSelector alone: pods of the policy's own namespace only.
    assert set(peer) == {"podSelector"} and set(peer["podSelector"]) == {"matchLabels"}
    selector = peer["podSelector"]["matchLabels"]
    cronjob_pod = find("CronJob")["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert _matches(selector, cronjob_pod), "the retraining CronJob's pods must reach MLflow"
    # The step pods' label comes from zenml_config.yaml (checked in the compiled pipeline by
    # tests/orchestrators/test_kfp_compile.py); a pod of another application does not match.
    assert not _matches(selector, {"app.kubernetes.io/name": "something-else"})
    (port,) = rule["ports"]
    assert (
        port["port"] == int(flag(container_args(container), "--port") or 5000) and port["protocol"] == "TCP"
    )
