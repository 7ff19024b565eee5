"""Benchmark: wall time of each step and of the whole pipeline run on the default config (install excluded).

    python bench/pipeline_time.py [--config zenml_config.yaml] [--out bench/out/pipeline_time.json]

Sets up the stack `make run` uses (MLflow on SQLite) in a fresh temporary ZenML store (nothing global is
touched), runs `causal-lattice run`, then reads each step's
start/end time from ZenML. Prints one JSON line: `steps` (seconds per step invocation), `total_s` (the whole
command, process start to exit), `steps_sum_s`, and `overhead_ratio` = total_s / steps_sum_s (orchestration cost
relative to the steps' own work, measured in the same run). Target: total_s < 300 on a 2-core CPU.
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.record import write_new  # noqa: E402

STEP_TIMES = """
import json
from zenml.client import Client
run = Client().list_pipeline_runs(sort_by="desc:created", size=1).items[0]
print(json.dumps({"run": run.name, "status": str(run.status), "steps": {
    name: (step.end_time - step.start_time).total_seconds() for name, step in run.steps.items()}}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "zenml_config.yaml")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "pipeline_time.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as workdir:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENML_", "MLFLOW_"))}
        env.update(
            ZENML_CONFIG_PATH=str(Path(workdir) / "zenml"),
            ZENML_ANALYTICS_OPT_IN="false",
            PYTHONPATH=str(REPO),
        )
        # The same stack as `make run`: local orchestrator, MLflow tracker and registry on SQLite.
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tools",
                "local-stack",
                "--state-dir",
                str(Path(workdir) / "state"),
                "--config",
                str(args.config.resolve()),
            ],
            cwd=workdir,
            env=env,
            stdout=sys.stderr,
            stderr=sys.stderr,
            check=True,
        )
        print(f"running the pipeline with {args.config} in {workdir} ...", file=sys.stderr)
        started = time.perf_counter()
        result = subprocess.run(
            [str(Path(sys.executable).with_name("causal-lattice")), "run", "-c", str(args.config.resolve())],
            cwd=workdir,
            env=env,
            stdout=sys.stderr,
            stderr=sys.stderr,
        )
        total = time.perf_counter() - started
        if result.returncode != 0:
            print(f"pipeline failed with exit code {result.returncode}", file=sys.stderr)
            return result.returncode
        query = subprocess.run(
            [sys.executable, "-c", STEP_TIMES],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        record = json.loads(query.stdout.strip().splitlines()[-1])
    steps = {name: round(seconds, 3) for name, seconds in sorted(record["steps"].items())}
    steps_sum = sum(steps.values())
    figures = {
        "steps": steps,
        "total_s": round(total, 2),
        "steps_sum_s": round(steps_sum, 2),
        "overhead_ratio": round(total / steps_sum, 3),
        "target_total_s": 300,
        "met": total < 300,
        "config": str(args.config),
        "cpu_count": os.cpu_count(),
        "status": record["status"],
    }
    print(json.dumps(figures))
    print(f"wrote {write_new(figures, args.out)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
