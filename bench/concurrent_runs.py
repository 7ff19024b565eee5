"""Two runs at once in one checkout: how much longer does each take than alone?

Runs `causal-lattice run -c CONFIG` once alone, then twice at the same time, in one working folder (one ZenML
store, one results folder), and prints ONE JSON line: the wall time alone, each concurrent run's wall time and
their ratio to the time alone, for `train.threads` set to each value of --threads (the project's default, 1,
against `auto`, every CPU the machine allows: what every process did before threads were fixed).

    .venv/bin/python bench/concurrent_runs.py                        # tests/data/tiny_config.yaml
    .venv/bin/python bench/concurrent_runs.py --threads 1 auto --config zenml_config.yaml
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("causal-lattice"))


def _config(workdir: Path, base: Path, threads: str) -> Path:
    document = yaml.safe_load(base.read_text())
    experiment = document["parameters"]["experiment"]
    experiment.setdefault("train", {})["threads"] = threads if threads == "auto" else int(threads)
    experiment["results_dir"] = str(workdir / "results")
    path = workdir / f"threads_{threads}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _start(workdir: Path, config: Path) -> tuple[subprocess.Popen[bytes], float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENML_", "MLFLOW_", "OMP_", "MKL_"))}
    env |= {
        "ZENML_CONFIG_PATH": str(workdir / "zenml"),
        "ZENML_ANALYTICS_OPT_IN": "false",
        "PYTHONPATH": str(REPO),
    }
    log = (workdir / f"run-{time.monotonic_ns()}.log").open("wb")
    process = subprocess.Popen([CLI, "run", "-c", str(config)], cwd=workdir, env=env, stdout=log, stderr=log)
    return process, time.monotonic()


def _wait(process: subprocess.Popen[bytes], started: float) -> float:
    if process.wait(timeout=3600) != 0:
        raise SystemExit(
            f"a run failed (exit {process.returncode}); its log is in {Path(process.args[0]).parent}"
        )
    return time.monotonic() - started


def measure(base: Path, threads: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="concurrent-runs-") as folder:
        workdir = Path(folder)
        config = _config(workdir, base, threads)
        alone = _wait(*_start(workdir, config))
        pair = [_start(workdir, config), _start(workdir, config)]
        together = [_wait(process, started) for process, started in pair]
    return {
        "threads": threads,
        "alone_s": round(alone, 1),
        "together_s": [round(t, 1) for t in together],
        "ratio": [round(t / alone, 2) for t in together],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, default=REPO / "tests" / "data" / "tiny_config.yaml")
    parser.add_argument("--threads", nargs="+", default=["1", "auto"])
    args = parser.parse_args()
    record = {
        "config": str(args.config),
        "cpus": len(os.sched_getaffinity(0)),
        "load_before": os.getloadavg(),
        "runs": [measure(args.config.resolve(), threads) for threads in args.threads],
    }
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
