"""Helpers of the fault tests: `causal-lattice run` in its own process group, stopped by SIGKILL when its log
shows a marker; the final report and the MLflow state to compare; a small tmpfs for a full or read-only disk."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.integration.zenml_env import CAUSAL_LATTICE, LOCAL_STACK, TINY_CONFIG, isolated_env

MODEL_NAME = "causal-lattice-transformer"
TRAININGS = ["train", "repro_seed_42", "subset_lung", "logo_lung"]
STEPS = [*TRAININGS, "extract_attention", "embed_latent", "analyze_lattice", "measure_utility", "repro_check",
         "subset_generalization", "report", "promote"]  # fmt: skip


def fault_config(directory: Path, results_dir: Path | None = None) -> Path:
    """The tiny run with caching on, one repro seed, one cohort, 12 epochs checkpointed every 2."""
    document = yaml.safe_load(TINY_CONFIG.read_text())
    document["enable_cache"] = True
    experiment = document["parameters"]["experiment"]
    experiment["evaluation"].update(repro_seeds=[42], subsets=["lung"])
    experiment["train"].update(epochs=12, checkpoint_every=2)
    experiment["results_dir"] = str(results_dir or directory / "results")
    path = directory / "fault_config.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def environment(workdir: Path, **extra: str) -> dict[str, str]:
    return isolated_env(
        workdir, ZENML_LOGGING_COLORS_DISABLED="true", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **extra
    )


def set_up_stack(workdir: Path, env: dict[str, str], config: Path) -> None:
    result = subprocess.run(
        [*LOCAL_STACK, "-c", str(config)], cwd=workdir, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]


@dataclass
class Attempt:
    returncode: int
    log: str
    killed: bool
    seconds: float

    def cached(self) -> set[str]:
        return set(re.findall(r"Using cached version of step `?(\w+)`?", self.log))


def run(
    workdir: Path,
    config: Path,
    env: dict[str, str],
    kill_at: str | None = None,
    on_marker: Any = None,
    timeout_s: float = 900,
) -> Attempt:
    """`causal-lattice run -c config` (what `make run` runs after the stack set-up). With `kill_at`, the whole
    process group gets SIGKILL as soon as that text is in its log; with `on_marker`, that is called instead and
    the run goes on."""
    log_path = workdir / f"run-{time.monotonic_ns()}.log"
    started = time.monotonic()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [CAUSAL_LATTICE, "run", "-c", str(config)],
            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        killed = False
        marker = kill_at or None
        deadline = started + timeout_s
        while process.poll() is None and time.monotonic() < deadline:
            if marker and marker in log_path.read_text(errors="replace"):
                if on_marker is None:
                    os.killpg(process.pid, signal.SIGKILL)
                    killed = True
                else:
                    on_marker()
                marker = None
            time.sleep(0.05)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise AssertionError(f"the run did not end within {timeout_s} s: {log_path.read_text()[-3000:]}")
        process.wait()
    return Attempt(
        process.returncode, log_path.read_text(errors="replace"), killed, time.monotonic() - started
    )


def final_summary(results_dir: Path) -> str:
    """The newest run's summary.md with its run name taken out (the numbers must match another run's)."""
    latest = (results_dir / "latest").resolve()
    return (latest / "reports" / "summary.md").read_text().replace(latest.name, "<run>")


def mlflow_state(uri: str) -> dict[str, Any]:
    """Registered versions (with their tags and aliases) and, per step invocation, the FINISHED runs."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = {str(v.version): dict(v.tags) for v in client.search_model_versions(f"name='{MODEL_NAME}'")}
    aliases = (
        {k: str(v) for k, v in client.get_registered_model(MODEL_NAME).aliases.items()} if versions else {}
    )
    experiment = client.get_experiment_by_name("causal-lattice")
    runs = client.search_runs([experiment.experiment_id], max_results=1000) if experiment else []
    finished: dict[str, int] = {}
    for item in runs:
        step = item.data.tags.get("zenml_step")
        if step and item.info.status == "FINISHED":
            finished[step] = finished.get(step, 0) + 1
    return {"versions": versions, "aliases": aliases, "finished": finished}


def digest_tree(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()
    }


def mount_tmpfs(path: Path, size_mib: int) -> bool:
    """A tmpfs of `size_mib` at `path` (root in a sandbox that allows mounts); False where it cannot be made."""
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(path)], capture_output=True
    )
    return result.returncode == 0


def unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(path: Path, leave_bytes: int = 0) -> Path:
    """Fill the filesystem of `path` with one file until fewer than `leave_bytes` are free."""
    filler = path / ".filler"
    chunk = b"\0" * (1 << 20)
    with filler.open("wb") as handle:
        try:
            while os.statvfs(path).f_bavail * os.statvfs(path).f_frsize > leave_bytes + len(chunk):
                handle.write(chunk)
                handle.flush()
            handle.write(b"\0" * max(os.statvfs(path).f_bavail * os.statvfs(path).f_frsize - leave_bytes, 0))
            handle.flush()
        except OSError:
            pass
    return filler
