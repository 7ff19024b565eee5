"""ZenML `Schedule` -> Kubeflow Pipelines recurring run.

KFP's scheduler (robfig/cron with seconds) takes **six** cron fields, `second minute hour dom month dow`
(see `kfp.Client.create_recurring_run`), while a ZenML `Schedule(cron_expression=...)` is written with the
usual five. The stock orchestrator passed the five-field string through, where the first field is read as
seconds (or the expression is rejected). `kfp_cron` prepends the seconds field.

`recurring_run_spec` is the single source of the `create_recurring_run` arguments: the orchestrator calls the
KFP client with it when it submits, and writes it as `<pipeline>.schedule.json` in compile-only mode, where
`submit_recurring_run` can replay it later.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zenml.models import ScheduleResponse

SCHEDULE_SPEC_SUFFIX = ".schedule.json"


def kfp_cron(expression: str) -> str:
    """A 5-field cron expression in KFP's 6-field form (a leading seconds field); 6 fields stay unchanged."""
    fields = expression.split()
    if len(fields) == 5:
        return " ".join(["0", *fields])
    if len(fields) == 6:
        return " ".join(fields)
    raise ValueError(
        f"Cron expression {expression!r} has {len(fields)} fields; expected 5 (minute hour day month "
        "weekday) or KFP's 6 (with a leading seconds field)."
    )


def schedule_spec_path(pipeline_file: str | Path) -> Path:
    """`build/x.yaml` -> `build/x.schedule.json`."""
    path = Path(pipeline_file)
    return path.with_name(path.stem + SCHEDULE_SPEC_SUFFIX)


def recurring_run_spec(
    schedule: ScheduleResponse,
    *,
    pipeline_file: str | Path,
    job_name: str,
    experiment_name: str,
    namespace: str | None = None,
) -> dict[str, Any]:
    """The recurring-run description of a ZenML schedule, JSON-serialisable.

    `["create_recurring_run"]` are keyword arguments of `kfp.Client().create_recurring_run` (without
    `experiment_id`, which only exists on a live server). `pipeline_file` is the YAML as the spec names it: the
    orchestrator passes the bare file name, since the spec lives next to the YAML and `submit_recurring_run`
    resolves it against that directory. A schedule without cron expression and interval is a ValueError.
    """
    interval = schedule.interval_second
    if not schedule.cron_expression and not interval:
        raise ValueError(
            f"Schedule {schedule.name!r} has neither cron_expression nor interval_second; Kubeflow recurring "
            "runs need one of them (ZenML's run_once_start_time is not supported by KFP)."
        )
    arguments: dict[str, Any] = {
        "job_name": job_name,
        "pipeline_package_path": str(pipeline_file),
        "cron_expression": kfp_cron(schedule.cron_expression) if schedule.cron_expression else None,
        # timedelta.seconds drops whole days (the stock orchestrator used it); total_seconds does not.
        "interval_second": int(interval.total_seconds())
        if interval and not schedule.cron_expression
        else None,
        "start_time": schedule.utc_start_time,
        "end_time": schedule.utc_end_time,
        "no_catchup": not schedule.catchup,
        "max_concurrency": 1,
        # ZenML does its own step caching; KFP's cache would skip a step without ZenML knowing.
        "enable_caching": False,
    }
    return {
        "schedule_name": schedule.name,
        "zenml_cron_expression": schedule.cron_expression,
        "pipeline_file": str(pipeline_file),
        "experiment_name": experiment_name,
        "namespace": namespace,
        "create_recurring_run": arguments,
    }


def write_recurring_run_spec(spec: dict[str, Any], pipeline_file: str | Path) -> Path:
    """Writes the spec next to the pipeline file and returns its path."""
    path = schedule_spec_path(pipeline_file)
    path.write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
    return path


def load_recurring_run_spec(spec_path: str | Path) -> tuple[dict[str, Any], Path]:
    """Reads a `.schedule.json`; returns the spec and the directory relative pipeline paths refer to."""
    path = Path(spec_path)
    return json.loads(path.read_text()), path.resolve().parent


def submit_recurring_run(spec: dict[str, Any], client: Any, base_dir: str | Path | None = None) -> Any:
    """Creates the recurring run of a `recurring_run_spec` with a `kfp.Client` (a relative package path is
    resolved against `base_dir`, default cwd); returns the server's `V2beta1RecurringRun`."""
    arguments = dict(spec["create_recurring_run"])
    package = Path(arguments["pipeline_package_path"])
    if not package.is_absolute():
        arguments["pipeline_package_path"] = str(Path(base_dir or Path.cwd()) / package)
    namespace = spec.get("namespace")
    try:
        experiment = client.get_experiment(experiment_name=spec["experiment_name"], namespace=namespace)
    except Exception:  # kfp raises ValueError or ApiException when the experiment does not exist
        experiment = client.create_experiment(spec["experiment_name"], namespace=namespace)
    return client.create_recurring_run(experiment_id=experiment.experiment_id, **arguments)
