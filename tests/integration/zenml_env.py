"""Helpers for running the real pipeline in a subprocess against an isolated ZenML store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CAUSAL_LATTICE = str(Path(sys.executable).with_name("causal-lattice"))  # the console script
# The development tool that registers the local ZenML + MLflow stack (run with PYTHONPATH=REPO).
LOCAL_STACK = [sys.executable, "-m", "tools", "local-stack", "--state-dir", ".state"]
TINY_CONFIG = REPO / "tests" / "data" / "tiny_config.yaml"
# The files of docs/design.md §4 every run writes under results/<run>/.
SPEC_FILES = [
    "visuals/attention/heatmap.png",
    "visuals/attention/attention_weight.csv",
    "latent/z_tsne.png",
    "latent/z_pca.png",
    "latent/z_stat.json",
    "lattice/lattice_graph.png",
    "lattice/degree_dist.png",
    "utility/utility_map.png",
    "utility/flops_log.csv",
    "reproducibility_log.json",
    "subsets/subset_summary.json",
    "reports/summary.md",
    "reports/summary.html",
]


def isolated_env(root: Path, **extra: str) -> dict[str, str]:
    """Environment with its own ZenML config/store under `root` (no global state touched)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENML_", "MLFLOW_"))}
    env.update(
        ZENML_CONFIG_PATH=str(root / "zenml"),
        ZENML_ANALYTICS_OPT_IN="false",
        ZENML_LOGGING_VERBOSITY="INFO",
        PYTHONPATH=str(REPO),
    )
    env.update(extra)
    return env


def run_pipeline(workdir: Path, config: Path = TINY_CONFIG, timeout: int = 900, **env: str):
    """`causal-lattice run -c config` in `workdir` (results land in workdir/results)."""
    return subprocess.run(
        [CAUSAL_LATTICE, "run", "-c", str(config)],
        cwd=workdir,
        env=isolated_env(workdir, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_pipeline(workdir: Path, log: Path, config: Path = TINY_CONFIG) -> subprocess.Popen[str]:
    """`causal-lattice run -c config` in `workdir`, started and not waited for; its output goes to `log` (a
    file, not a pipe: two runs waited for one after the other would block on a full pipe)."""
    with log.open("w") as handle:
        return subprocess.Popen(
            [CAUSAL_LATTICE, "run", "-c", str(config)],
            cwd=workdir,
            env=isolated_env(workdir),
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
        )


def zenml_query(workdir: Path, code: str) -> object:
    """Run `code` (which must print one JSON document) against the isolated ZenML store of `workdir`.

    The code runs from a file: ZenML derives its source root from the main module's file when loading
    artifacts."""
    script = workdir / "zenml_query.py"
    script.write_text(code)
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=workdir,
        env=isolated_env(workdir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


RUN_OUTPUTS = """
import json
from zenml.client import Client
runs = Client().list_pipeline_runs(sort_by="asc:created", size=50)
print(json.dumps([
    {"name": r.name, "status": str(r.status),
     "steps": {s: sorted(step.outputs) for s, step in r.steps.items()},
     "step_status": {s: str(step.status) for s, step in r.steps.items()}}
    for r in runs.items
]))
"""
