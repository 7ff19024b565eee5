"""ZenML schedule -> KFP recurring-run spec (no ZenML or KFP server needed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from orchestrators.kubeflow_gpu.schedule import (
    kfp_cron,
    load_recurring_run_spec,
    recurring_run_spec,
    schedule_spec_path,
    submit_recurring_run,
    write_recurring_run_spec,
)


@dataclass
class FakeSchedule:
    name: str = "nightly"
    cron_expression: str | None = "30 2 * * 1-5"
    interval_second: timedelta | None = None
    utc_start_time: str | None = "2026-12-01T00:00:00+00:00"
    utc_end_time: str | None = None
    catchup: bool = False


def test_kfp_cron_adds_seconds_field() -> None:
    assert kfp_cron("30 2 * * 1-5") == "0 30 2 * * 1-5"
    assert kfp_cron("0 30 2 * * 1-5") == "0 30 2 * * 1-5"
    with pytest.raises(ValueError, match="fields"):
        kfp_cron("* *")


def test_spec_round_trip_and_submit(tmp_path: Path) -> None:
    pipeline_file = tmp_path / "p.yaml"
    pipeline_file.write_text("{}")
    spec = recurring_run_spec(
        FakeSchedule(), pipeline_file="p.yaml", job_name="nightly", experiment_name="exp"
    )
    path = write_recurring_run_spec(spec, pipeline_file)
    assert path == schedule_spec_path(pipeline_file) == tmp_path / "p.schedule.json"

    loaded, base = load_recurring_run_spec(path)
    calls: dict[str, Any] = {}

    class FakeClient:
        def get_experiment(self, experiment_name: str, namespace: str | None) -> Any:
            raise ValueError("no such experiment")

        def create_experiment(self, name: str, namespace: str | None) -> Any:
            calls["experiment"] = name
            return type("Experiment", (), {"experiment_id": "exp-1"})()

        def create_recurring_run(self, **kwargs: Any) -> str:
            calls["run"] = kwargs
            return "created"

    assert submit_recurring_run(loaded, FakeClient(), base_dir=base) == "created"
    assert calls["experiment"] == "exp"
    assert calls["run"]["experiment_id"] == "exp-1"
    assert calls["run"]["cron_expression"] == "0 30 2 * * 1-5"
    assert calls["run"]["pipeline_package_path"] == str(pipeline_file)
    assert calls["run"]["start_time"] == "2026-12-01T00:00:00+00:00"
    assert calls["run"]["no_catchup"] is True


def test_interval_schedule_uses_total_seconds() -> None:
    schedule = FakeSchedule(cron_expression=None, interval_second=timedelta(days=1, hours=1))
    spec = recurring_run_spec(schedule, pipeline_file="p.yaml", job_name="j", experiment_name="e")
    assert spec["create_recurring_run"]["interval_second"] == 90000
    with pytest.raises(ValueError, match="neither"):
        recurring_run_spec(
            FakeSchedule(cron_expression=None), pipeline_file="p", job_name="j", experiment_name="e"
        )
