"""Benchmark: wall time of each step and of the whole pipeline run on the default config (install excluded).

    python bench/pipeline_time.py [--config zenml_config.yaml] [--out bench/out/pipeline_time.json]
                                  [--sequential-baseline]

Sets up the stack `make run` uses (MLflow on SQLite) in a fresh temporary ZenML store (nothing global is
touched), runs `causal-lattice run`, then reads each step's
start/end time from ZenML. Prints one JSON line: `steps` (seconds per step invocation), `total_s` (the whole
command, process start to exit), `steps_sum_s`, and `overhead_ratio` = total_s / steps_sum_s (orchestration cost
relative to the steps' own work, measured in the same run; below 1 when steps run side by side) and `processes`
(how many steps ran at once, `settings.orchestrator.local_parallel.processes`). `--sequential-baseline` first
runs the same configuration one step at a time, on a fresh stack of its own, and records it under `sequential`
with `speedup_vs_sequential` (its total_s over this one's). Target: total_s < 300 on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import copy
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
from model.run_config import LOCAL_PARALLEL_SETTINGS, read_run_config  # noqa: E402

STEP_TIMES = """
import json
from zenml.client import Client
run = Client().list_pipeline_runs(sort_by="desc:created", size=1).items[0]
print(json.dumps({"run": run.name, "status": str(run.status), "steps": {
    name: (step.end_time - step.start_time).total_seconds() for name, step in run.steps.items()}}))
"""


def run_once(config: Path, workdir: Path) -> dict[str, object]:
    """One `causal-lattice run` of `config` on a fresh local stack in `workdir`: its figures."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENML_", "MLFLOW_"))}
    env.update(ZENML_CONFIG_PATH=str(workdir / "zenml"), ZENML_ANALYTICS_OPT_IN="false", PYTHONPATH=str(REPO))
    # The same stack as `make run`: the local_parallel orchestrator, MLflow tracker and registry on SQLite.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tools",
            "local-stack",
            "--state-dir",
            str(workdir / "state"),
            "--config",
            str(config),
        ],
        cwd=workdir,
        env=env,
        stdout=sys.stderr,
        stderr=sys.stderr,
        check=True,
    )
    settings = read_run_config(config).document.get("settings") or {}
    processes = (settings.get(LOCAL_PARALLEL_SETTINGS) or {}).get("processes", 1)
    print(
        f"running the pipeline with {config} ({processes} step(s) at a time) in {workdir} ...",
        file=sys.stderr,
    )
    started = time.perf_counter()
    result = subprocess.run(
        [str(Path(sys.executable).with_name("causal-lattice")), "run", "-c", str(config)],
        cwd=workdir,
        env=env,
        stdout=sys.stderr,
        stderr=sys.stderr,
    )
    total = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"pipeline failed with exit code {result.returncode}")
    query = subprocess.run(
        [sys.executable, "-c", STEP_TIMES], cwd=workdir, env=env, capture_output=True, text=True, check=True
    )
    record = json.loads(query.stdout.strip().splitlines()[-1])
    steps = {name: round(seconds, 3) for name, seconds in sorted(record["steps"].items())}
    steps_sum = sum(steps.values())
    return {
        "steps": steps,
        "total_s": round(total, 2),
        "steps_sum_s": round(steps_sum, 2),
        "overhead_ratio": round(total / steps_sum, 3),
        "processes": processes,
        "status": record["status"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "zenml_config.yaml")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "pipeline_time.json")
    parser.add_argument(
        "--sequential-baseline",
        action="store_true",
        help="first run the same configuration with one step at a time (processes: 1), and record the ratio",
    )
    args = parser.parse_args()
    config = args.config.resolve()
    baseline = None
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as folder:
        if args.sequential_baseline:
            document = copy.deepcopy(read_run_config(config).document)
            document.setdefault("settings", {})[LOCAL_PARALLEL_SETTINGS] = {"processes": 1}
            sequential = Path(folder) / "sequential.yaml"
            sequential.write_text(yaml.safe_dump(document, sort_keys=False))
            (Path(folder) / "baseline").mkdir()
            baseline = run_once(sequential, Path(folder) / "baseline")
        (Path(folder) / "run").mkdir()
        figures = run_once(config, Path(folder) / "run")
    figures |= {"target_total_s": 300, "met": figures["total_s"] < 300, "config": str(args.config)}
    figures["cpu_count"] = os.cpu_count()
    if baseline is not None:
        figures["sequential"] = baseline
        figures["speedup_vs_sequential"] = round(baseline["total_s"] / figures["total_s"], 3)
    print(json.dumps(figures))
    print(f"wrote {write_new(figures, args.out)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
