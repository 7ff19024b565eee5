"""Two runs at once in one checkout: how much longer does each take than alone?

Runs `causal-lattice run -c CONFIG` once alone, then twice at the same time, in one working folder (one ZenML
store, one results folder), and prints ONE JSON line: the wall time alone, each concurrent run's wall time and
their ratio to the time alone, for `train.threads` set to each value of --threads (the project's default, 1,
against `auto`, every CPU the machine allows: what every process did before threads were fixed).

    .venv/bin/python bench/concurrent_runs.py                        # tests/data/tiny_config.yaml
    .venv/bin/python bench/concurrent_runs.py --threads 1 auto --config zenml_config.yaml

The record also goes to bench/out/concurrent_runs.json (`--record`: bench/results/concurrent_runs_cpu<N>.json);
an existing file is never overwritten.
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
sys.path.insert(0, str(REPO))

from bench.record import write_new  # noqa: E402

CLI = str(Path(sys.executable).with_name("causal-lattice"))


def _config(workdir: Path, base: Path, threads: str) -> Path:
    document = yaml.safe_load(base.read_text())
    experiment = document["parameters"]["experiment"]
    experiment.setdefault("train", {})["threads"] = threads if threads == "auto" else int(threads)
    experiment["results_dir"] = str(workdir / "results")
    document["enable_cache"] = False  # every run does all its work: a cached step would flatter the pair
    path = workdir / f"threads_{threads}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENML_", "MLFLOW_", "OMP_", "MKL_"))}
    return env | {
        "ZENML_CONFIG_PATH": str(workdir / "zenml"),
        "ZENML_ANALYTICS_OPT_IN": "false",
        "PYTHONPATH": str(REPO),
    }


def _start(workdir: Path, config: Path) -> tuple[subprocess.Popen[bytes], float]:
    env = _env(workdir)
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
        # The ZenML store exists before anything is timed: creating it is a one-off, not part of a run.
        store = "from zenml.client import Client; Client().zen_store"
        subprocess.run([sys.executable, "-c", store], env=_env(workdir), check=True, capture_output=True)
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
    parser.add_argument("--record", action="store_true", help="also write the record under bench/results/")
    args = parser.parse_args()
    record = {
        "command": " ".join(["python bench/concurrent_runs.py", *sys.argv[1:]]),
        "config": str(args.config),
        "cpus": len(os.sched_getaffinity(0)),
        "load_before": os.getloadavg(),
        "runs": [measure(args.config.resolve(), threads) for threads in args.threads],
    }
    print(json.dumps(record), flush=True)
    write_new(record, REPO / "bench" / "out" / "concurrent_runs.json")
    if args.record:
        write_new(record, REPO / "bench" / "results" / f"concurrent_runs_cpu{record['cpus']}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
