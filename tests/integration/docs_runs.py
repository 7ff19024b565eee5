"""Helpers of test_docs_examples.py: the README's examples, run as written (the real `make` targets and
commands) on tiny data, with every bit of state in a folder of the test's own.

`make -C REPO TARGET CONFIG=... STATE=...` runs the Makefile's own recipe; STATE moves `.state/` (ZenML store,
MLflow SQLite and artifacts) out of the checkout, and every config written here sends `results_dir` there too.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from model.config import parse_experiment
from model.run_config import LOCAL_PARALLEL_SETTINGS
from pipelines.plan import step_names

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
K8S_README = REPO / "k8s" / "README.md"
VENV_BIN = Path(sys.executable).parent

# What keeps each documented run to seconds per training: a small network, two epochs, a structure phase of a few
# dozen steps (as tests/data/tiny_config.yaml), one repro seed beside the main one; the gates loose enough that
# the first eligible model becomes champion, so `make retrain` and serving have one.
TINY: dict[str, Any] = {
    "model": {"d_model": 16, "n_heads": 2, "n_blocks": 2, "d_latent": 8},
    "train": {
        "epochs": 2,
        "lr": 3.0e-3,
        "structure": {"steps_per_round": 20, "min_rounds": 2, "max_rounds": 3, "orientation_steps": 40},
    },
    "evaluation": {"repro_seeds": [42, 43], "tsne_perplexity": 10},
    "gates": {
        "max_seed_accuracy_std": 1.0,
        "max_subset_accuracy_gap": 1.0,
        "min_flops_reduction": 0.0,
        "max_routed_accuracy_drop": 1.0,
    },
}
TINY_SYNTHETIC = {"n_samples": 360, "n_genes": 8, "n_causal_genes": 2, "n_biomarkers": 2}


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` into `base`, mappings merged key by key, anything else replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def readme_yaml_snippets() -> list[dict[str, Any]]:
    """Every ```yaml block of the README, parsed."""
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.S)
    return [yaml.safe_load(block) for block in blocks]


def documented(command: str) -> bool:
    """Whether README.md or k8s/README.md shows `command`."""
    return command in README.read_text() or command in K8S_README.read_text()


def write_config(workdir: Path, name: str, base: Path | dict[str, Any], override: Mapping[str, Any]) -> Path:
    """A run configuration: `base` (a file of the repository or a document) with `override` merged into its
    `parameters.experiment`, results under `workdir/results`, one step at a time, and the `steps:` blocks of the
    steps it runs."""
    document = yaml.safe_load(base.read_text()) if isinstance(base, Path) else copy.deepcopy(base)
    document.setdefault("parameters", {}).setdefault("experiment", {})
    experiment = merge(document["parameters"]["experiment"], override)
    experiment["results_dir"] = str(workdir / "results")
    document["parameters"]["experiment"] = experiment
    # Seconds per training: one step at a time, as tests/data/tiny_config.yaml (a worker's own cost eats what
    # running steps side by side gains at this size, docs/science.md); the side-by-side mode has its own tests.
    document.setdefault("settings", {})[LOCAL_PARALLEL_SETTINGS] = {"processes": 1}
    # As the docs tell a user who runs fewer cohorts or seeds: drop the `steps:` blocks of the steps this
    # configuration's pipeline does not run (the front door refuses them).
    running = set(step_names(parse_experiment(experiment)))
    if document.get("steps"):
        document["steps"] = {name: block for name, block in document["steps"].items() if name in running}
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def cohort_table(path: Path, rows: int = 240, seed: int = 0) -> None:
    """The README's table: TP53, KRAS, EGFR, a label `response` caused by two of them, cohorts in
    `cancer_type`, and one more gene caused by the label (a downstream biomarker)."""
    rng = np.random.default_rng(seed)
    cohorts = np.array(["lung", "colon", "breast"])[np.arange(rows) % 3]
    tp53 = rng.normal(size=rows) + (cohorts == "lung") * 0.5
    kras = 0.8 * tp53 + rng.normal(size=rows) * 0.6
    egfr = rng.normal(size=rows)
    response = (kras - egfr + rng.normal(size=rows) * 0.7 > 0).astype(int)
    myc = response * 1.5 + rng.normal(size=rows) * 0.5
    frame = pd.DataFrame(
        {"TP53": tp53, "KRAS": kras, "EGFR": egfr, "MYC": myc, "response": response, "cancer_type": cohorts}
    )
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    edges = pd.DataFrame({"source": ["TP53", "KRAS"], "target": ["KRAS", "EGFR"]})
    edges.to_csv(path.with_name("known_edges.csv"), index=False)


def environment(workdir: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without its ZenML/MLflow settings, the checkout importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENML_", "MLFLOW_", "MAKE"))}
    env.update(
        ZENML_ANALYTICS_OPT_IN="false",
        ZENML_LOGGING_COLORS_DISABLED="true",
        PYTHONPATH=str(REPO),
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    env.update(extra)
    return env


def make(target: str, workdir: Path, config: Path | None = None, timeout: int = 900, **env: str):
    """`make -C REPO target CONFIG=config STATE=workdir/.state` with `env` added."""
    argv = ["make", "--no-print-directory", "-C", str(REPO), target, f"STATE={workdir / '.state'}"]
    if config is not None:
        argv.append(f"CONFIG={config}")
    argv.append(f"KFP_OUTPUT={workdir / 'kubeflow' / 'pipeline.yaml'}")
    return subprocess.run(
        argv, env=environment(workdir, **env), capture_output=True, text=True, timeout=timeout, check=False
    )


def run_dirs(workdir: Path) -> list[Path]:
    """The run folders under workdir/results, oldest first (names carry the start time)."""
    results = workdir / "results"
    return sorted(
        p for p in results.iterdir() if p.is_dir() and not p.is_symlink() and p.name != "retraining"
    )


def cpu_cgroup(name: str, cpus: float) -> Path | None:
    """A child cgroup whose CPU quota is `cpus` (a Kubernetes CPU limit), or None where this machine does not
    let the test make one (not root, no cpu controller, a cgroup v2 parent that cannot delegate it)."""
    root = Path("/sys/fs/cgroup")
    quota = int(cpus * 100_000)
    try:
        if (root / "cgroup.controllers").is_file():
            if "cpu" not in (root / "cgroup.subtree_control").read_text().split():
                (root / "cgroup.subtree_control").write_text("+cpu")
            group = root / name
            group.mkdir(exist_ok=True)
            (group / "cpu.max").write_text(f"{quota} 100000")
        elif (root / "cpu" / "cpu.cfs_quota_us").is_file():
            group = root / "cpu" / name
            group.mkdir(exist_ok=True)
            (group / "cpu.cfs_period_us").write_text("100000")
            (group / "cpu.cfs_quota_us").write_text(str(quota))
        else:
            return None
    except OSError:
        return None
    return group


def remove_cgroup(group: Path, timeout_s: float = 30) -> None:
    """Remove a cgroup made by `cpu_cgroup` once the processes in it have ended."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            group.rmdir()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def in_cgroup(group: Path, argv: list[str]) -> list[str]:
    """`argv` started inside `group` (the shell moves itself there, then becomes the command)."""
    return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(group), *argv]


def comparable_summary(run: Path) -> str:
    """summary.md without what differs between two runs of one configuration by design: the run's name and
    the runtime line (threads and usable CPUs are what the comparison varies)."""
    text = (run / "reports" / "summary.md").read_text().replace(run.name, "<run>")
    return "\n".join(line for line in text.splitlines() if not line.startswith("- runtime"))
