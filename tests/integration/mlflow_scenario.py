"""The MLflow server scenario of test_mlflow_server.py: a real `mlflow server` in its own process group, the
scenario's configs and subprocess helpers against its isolated ZenML store."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from registry import MODEL_NAME
from tests.integration.zenml_env import SPEC_FILES

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / "tests" / "data" / "tiny_config.yaml"
PIPELINE = "pipelines.causal_experiment.causal_experiment_pipeline"
SUBSET = "lung"
PASSING_GATES = {
    "max_seed_accuracy_std": 1.0,
    "max_subset_accuracy_gap": 1.0,
    "min_flops_reduction": 0.0,
    "max_routed_accuracy_drop": 1.0,
}
FAILING_GATES = {**PASSING_GATES, "min_flops_reduction": 1.0}  # the routed model can never skip all compute
TRAININGS = ["train", "repro_seed_42", f"subset_{SUBSET}", f"logo_{SUBSET}"]
PROTOCOL_FILES = [*SPEC_FILES, "logs/grad/train.json", "logs/grad/repro_seed_42.json", "reports/promotion.md"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class MlflowServer:
    """`mlflow server` in its own process group (it spawns a job runner and huey consumers beside itself)."""

    root: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 120) -> None:
        self.starts += 1
        log = (self.root / f"server-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "mlflow", "server",
                "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
                "--artifacts-destination", str(self.root / "artifacts"),
                "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
            ],
            cwd=self.root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"mlflow server exited: {(self.root / f'server-{self.starts}.log').read_text()}"
                )
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"mlflow server at {self.uri} did not answer /health within {timeout_s} s")

    def stop(self) -> None:
        """End the whole process group: SIGTERM, then SIGKILL for whatever outlives it."""
        if self.process is None:
            return
        group = self.process.pid
        for sig, grace_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + grace_s
            while time.monotonic() < deadline and _group_alive(group):
                self.process.poll()
                time.sleep(0.2)
            if not _group_alive(group):
                break
        self.process.wait(timeout=5)
        self.process = None


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    # Zombies of the group leader (our child) count as gone once reaped; killpg(0) also sees unreaped zombies.
    listing = subprocess.run(["ps", "-o", "stat=", "-g", str(group)], capture_output=True, text=True).stdout
    return any(not state.startswith("Z") for state in listing.split())


@dataclass
class Scenario:
    workdir: Path
    server: MlflowServer
    env: dict[str, str]
    runs: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    gates: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    registry_after: dict[str, dict[str, Any]] = field(default_factory=dict)


def run(
    argv: list[str], scenario: Scenario, timeout: int = 600, **env: str
) -> subprocess.CompletedProcess[str]:
    """`argv` in the scenario's working directory and environment, with `env` on top of it."""
    return subprocess.run(
        argv,
        cwd=scenario.workdir,
        env={**scenario.env, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_config(directory: Path, name: str, gates: dict[str, float]) -> Path:
    document = yaml.safe_load(TINY_CONFIG.read_text())
    experiment = document["parameters"]["experiment"]
    experiment["evaluation"]["repro_seeds"] = [42]
    experiment["evaluation"]["subsets"] = [SUBSET]
    experiment["gates"] = gates
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def registry_state(uri: str) -> dict[str, Any]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    aliases = client.get_registered_model(MODEL_NAME).aliases
    versions = {
        str(v.version): dict(v.tags) | {"run_id": v.run_id}
        for v in client.search_model_versions(f"name='{MODEL_NAME}'")
    }
    return {"aliases": {k: str(v) for k, v in aliases.items()}, "versions": versions}


def zenml_query(scenario: Scenario, code: str) -> Any:
    """Run `code` (printing one JSON document last) against the scenario's ZenML store. It runs as a script
    file: loading an artifact needs a main module with a file (ZenML derives its source root from it)."""
    script = scenario.workdir / f"query_{abs(hash(code))}.py"
    script.write_text(code)
    result = run([sys.executable, str(script)], scenario, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
