"""Pipelines for the `local_parallel` orchestrator's tests, run as a script against a fresh ZenML store.

    ZENML_CONFIG_PATH=<empty folder> python -m tests.orchestrators.local_parallel_pipeline PROCESSES

Registers the flavor and a stack (the orchestrator and the default artifact store), runs `side_by_side` (two
steps of one second each after a first step, then one that waits for both) and `one_fails` (a step that
raises, one that waits on it, one independent of it), and prints one JSON line: each run's steps with their
status and start and end times (seconds since the epoch), and the error each run raised.
"""

# No `from __future__ import annotations`: ZenML reads the steps' type hints at runtime.
import json
import sys
import time
from pathlib import Path

from zenml import pipeline, step
from zenml.utils import source_utils

REPO = Path(__file__).resolve().parents[2]
# Sources named from the repository root, as the project's own steps are (importable by the fork server).
source_utils.set_custom_source_root(str(REPO))


@step(enable_cache=False)
def first() -> int:
    return 1


@step(enable_cache=False)
def one_second(value: int) -> int:
    time.sleep(1.0)
    return value + 1


@step(enable_cache=False)
def both(left: int, right: int) -> int:
    return left + right


@step(enable_cache=False)
def fails(value: int) -> int:
    raise ValueError(f"this step fails on purpose (input {value})")


@pipeline(enable_cache=False)
def side_by_side() -> None:
    value = first()
    both(one_second(value, id="left"), one_second(value, id="right"))


@pipeline(enable_cache=False)
def one_fails() -> None:
    value = first()
    one_second(fails(value), id="after_failure")
    one_second(value, id="independent")


def steps_of_last_run(name: str) -> dict[str, dict[str, object]]:
    from zenml.client import Client

    run = Client().get_pipeline(name).last_run
    return {
        step_name: {
            "status": str(step_run.status.value),
            "start": step_run.start_time.timestamp() if step_run.start_time else None,
            "end": step_run.end_time.timestamp() if step_run.end_time else None,
        }
        for step_name, step_run in run.steps.items()
    }


def main(processes: int) -> None:
    from cli.stacks import Component, upsert_stack
    from orchestrators.local_parallel.flavor import LOCAL_PARALLEL_ORCHESTRATOR_FLAVOR

    upsert_stack(
        "local-parallel-test",
        [
            Component(
                "orchestrator",
                "local-parallel-test",
                LOCAL_PARALLEL_ORCHESTRATOR_FLAVOR,
                {"processes": processes},
                flavor_source="orchestrators.local_parallel.flavor.LocalParallelOrchestratorFlavor",
            ),
            Component("artifact_store", "default"),
        ],
    )
    report: dict[str, object] = {}
    for name, run in (("side_by_side", side_by_side), ("one_fails", one_fails)):
        error = None
        try:
            run()
        except Exception as raised:
            error = f"{type(raised).__name__}: {raised}"
        report[name] = {"error": error, "steps": steps_of_last_run(name)}
    print(json.dumps(report))


if __name__ == "__main__":
    main(int(sys.argv[1]))
