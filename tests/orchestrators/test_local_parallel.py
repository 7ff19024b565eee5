"""The `local_parallel` orchestrator: its schedule (pure), its settings, and real ZenML runs of small pipelines
(`local_parallel_pipeline.py`) one and two steps at a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from model.run_config import LOCAL_PARALLEL_SETTINGS
from orchestrators.local_parallel.flavor import LOCAL_PARALLEL_SETTINGS_KEY, LocalParallelOrchestratorSettings
from orchestrators.local_parallel.orchestrator import StepSchedule, portable_error

REPO = Path(__file__).resolve().parents[2]

# load -> (train -> analyse -> report), (subset -> report), (side): what the project's pipeline looks like.
UPSTREAM = {
    "load": frozenset(),
    "side": frozenset({"load"}),
    "subset": frozenset({"load"}),
    "train": frozenset({"load"}),
    "analyse": frozenset({"train"}),
    "report": frozenset({"analyse", "subset"}),
}


def test_ready_steps_put_the_longest_path_first() -> None:
    schedule = StepSchedule(UPSTREAM)
    assert schedule.downstream_counts() == {
        "load": 5,
        "side": 0,
        "subset": 1,
        "train": 2,
        "analyse": 1,
        "report": 0,
    }
    assert schedule.ready() == ["load"]
    schedule.started.add("load")
    assert schedule.ready() == []  # started, not completed
    schedule.completed.add("load")
    assert schedule.ready() == ["train", "subset", "side"]
    schedule.started |= {"train", "subset"}
    schedule.completed |= {"train", "subset"}
    assert schedule.ready() == ["analyse", "side"]


def test_a_failure_skips_every_step_that_waits_on_it_and_nothing_else() -> None:
    schedule = StepSchedule(UPSTREAM)
    schedule.started |= {"load", "train"}
    schedule.completed.add("load")
    schedule.failed.append("train")
    assert schedule.skip_after_failures() == ["analyse", "report"]
    assert schedule.skip_after_failures() == []
    assert schedule.ready() == ["subset", "side"]


def test_the_config_check_reads_this_flavors_settings_key() -> None:
    # model/ checks the run configuration's block without importing the flavor (it imports nothing above it)
    assert LOCAL_PARALLEL_SETTINGS == LOCAL_PARALLEL_SETTINGS_KEY


def test_processes_below_one_is_refused() -> None:
    assert LocalParallelOrchestratorSettings().processes == 1
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        LocalParallelOrchestratorSettings(processes=0)


class Unpicklable(Exception):
    def __init__(self, code: int, detail: str) -> None:  # two arguments: pickling rebuilds it with one
        super().__init__(f"{code}: {detail}")


def test_a_step_error_reaches_the_run_as_it_is_or_by_name() -> None:
    error = ValueError("bad input")
    assert portable_error(error) is error
    replaced = portable_error(Unpicklable(3, "broken"))
    assert isinstance(replaced, RuntimeError) and str(replaced) == "Unpicklable: 3: broken"


def _runs(tmp_path: Path, processes: int) -> dict[str, dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENML_", "MLFLOW_"))}
    env.update(
        ZENML_CONFIG_PATH=str(tmp_path / "zenml"), ZENML_ANALYTICS_OPT_IN="false", PYTHONPATH=str(REPO)
    )
    result = subprocess.run(
        [sys.executable, "-m", "tests.orchestrators.local_parallel_pipeline", str(processes)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.integration
@pytest.mark.parametrize("processes", [1, 2])
def test_real_runs_overlap_only_with_two_processes_and_report_failures_alike(
    tmp_path: Path, processes: int
) -> None:
    runs = _runs(tmp_path, processes)
    side_by_side = runs["side_by_side"]
    assert side_by_side["error"] is None
    steps = side_by_side["steps"]
    assert {name: step["status"] for name, step in steps.items()} == dict.fromkeys(
        ["first", "left", "right", "both"], "completed"
    )
    left, right = steps["left"], steps["right"]
    overlap = min(left["end"], right["end"]) - max(left["start"], right["start"])
    if processes == 2:
        assert overlap > 0.5, steps  # both one-second steps ran at the same time
    else:
        assert overlap <= 0, steps
    assert steps["both"]["start"] >= max(left["end"], right["end"])
    failing = runs["one_fails"]
    assert failing["error"] == "RuntimeError: Pipeline run has failed due to failure in step(s): fails"
    statuses = {name: step["status"] for name, step in failing["steps"].items()}
    assert statuses == {
        "first": "completed",
        "fails": "failed",
        "independent": "completed",
    }  # after_failure never ran
