"""MLflow logging helpers for the steps: plain functions that take data and log it to the active MLflow run.

ZenML's MLflow experiment tracker (`registry.stack.tracked_step_options`) opens, for every tracked step, the
pipeline run's parent MLflow run (named after the ZenML run) and a nested run named after the step invocation
(`train`, `repro_seed_43`, `logo_lung`, ...). What goes where:

* nested step run: the step's parameters, metrics (per-epoch history for trainings) and tags
  `zenml_pipeline`, `zenml_run`, `zenml_run_id`, `zenml_step` (+ `view`, `seed` for trainings);
* parent run: the whole validated config as flattened dotted params, the same ZenML tags, summary metrics as
  `<step>/<metric>`, and every result file of docs/design.md §4 under the same relative path as in
  `results/<run>/` (`visuals/attention/heatmap.png`, `logs/grad/train.json`, `reports/summary.md`, ...).

Every function is a no-op when no MLflow run is active (a stack without an experiment tracker), so the steps
run unchanged on any stack. mlflow is only imported when a run can be active: ZenML's tracker has imported it
then.
"""

from __future__ import annotations

import json
import math
import re
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow.entities import Run

    from model.artifacts import EpochRecord

PARENT_RUN_TAG = "mlflow.parentRunId"
MAX_PARAM_LENGTH = 6000  # MLflow 3's limit on a param value
_BATCH_METRICS, _BATCH_PARAMS, _BATCH_TAGS = 1000, 100, 100
_UNSAFE = re.compile(r"[^\w.\-/ ]")


@dataclass(frozen=True)
class StepIdentity:
    """Which ZenML pipeline run and step invocation is logging."""

    pipeline: str
    run_name: str
    run_id: str
    step: str

    def tags(self) -> dict[str, str]:
        return {"zenml_pipeline": self.pipeline, "zenml_run": self.run_name, "zenml_run_id": self.run_id}


def active_run() -> Run | None:
    """The MLflow run ZenML's tracker opened for this step, or None on a stack without one."""
    mlflow = sys.modules.get("mlflow")
    return None if mlflow is None else mlflow.active_run()


def parent_run_id(run: Run) -> str:
    """The pipeline run's MLflow run: the parent of the step's nested run (the run itself if not nested)."""
    return run.data.tags.get(PARENT_RUN_TAG) or run.info.run_id


def _key(name: str) -> str:
    return _UNSAFE.sub("_", name)


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings to dotted keys: {"train": {"lr": 0.1}} -> {"train.lr": 0.1}."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def config_params(config: Mapping[str, Any]) -> dict[str, str]:
    """A JSON-dumped config (`ExperimentConfig.model_dump(mode="json")`) as MLflow params with dotted keys;
    lists and nulls are written as JSON."""
    params = {}
    for key, value in flatten(config).items():
        text = value if isinstance(value, str) else json.dumps(value)
        params[_key(key)] = text[:MAX_PARAM_LENGTH]
    return params


def numeric_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The finite numbers (and booleans as 0/1) of a possibly nested metrics mapping, with dotted keys."""
    numbers = {}
    for key, value in flatten(metrics, prefix).items():
        if isinstance(value, bool) or isinstance(value, int | float) and math.isfinite(float(value)):
            numbers[_key(key)] = float(value)
    return numbers


def history_metrics(history: Sequence[EpochRecord]) -> list[tuple[str, float, int]]:
    """(key, value, epoch) for every loss term, train accuracy, utility entropy, utility per block and
    per-parameter gradient norm of each epoch."""
    points: list[tuple[str, float, int]] = []
    for record in history:
        values: dict[str, float] = {f"loss/{term}": value for term, value in record.loss.items()}
        if record.train_accuracy is not None:
            values["train_accuracy"] = record.train_accuracy
        values["utility_entropy"] = record.utility_entropy
        values.update({f"utility/block_{i}": u for i, u in enumerate(record.utility_per_block)})
        values.update({f"grad_norm/{name}": norm for name, norm in record.grad_norms.items()})
        if record.grad_norms:
            values["grad_norm/max"] = max(record.grad_norms.values())
        values["epoch_seconds"] = record.seconds
        points.extend((_key(k), float(v), record.epoch) for k, v in values.items() if math.isfinite(float(v)))
    return points


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _log_batch(
    run_id: str,
    metrics: Sequence[tuple[str, float, int]] = (),
    params: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    client = MlflowClient()
    now = int(time.time() * 1000)
    for chunk in _chunks([Metric(k, v, now, s) for k, v, s in metrics], _BATCH_METRICS):
        client.log_batch(run_id, metrics=chunk, synchronous=True)
    for chunk in _chunks([Param(k, v) for k, v in (params or {}).items()], _BATCH_PARAMS):
        client.log_batch(run_id, params=chunk, synchronous=True)
    for chunk in _chunks([RunTag(k, str(v)) for k, v in (tags or {}).items()], _BATCH_TAGS):
        client.log_batch(run_id, tags=chunk, synchronous=True)


def log_files(run_id: str, files: Mapping[str, bytes]) -> None:
    """Log files to a run under their relative paths (`visuals/attention/heatmap.png` stays that path)."""
    if not files:
        return
    from mlflow import MlflowClient

    with tempfile.TemporaryDirectory() as staging:
        for relative, content in files.items():
            path = Path(staging) / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        MlflowClient().log_artifacts(run_id, staging)


def log_step(
    identity: StepIdentity,
    *,
    config: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    history: Sequence[EpochRecord] = (),
    files: Mapping[str, bytes] | None = None,
    tags: Mapping[str, str] | None = None,
) -> str | None:
    """Log one step's results; returns the step's MLflow run id, or None when no run is active.

    `config` (the run's validated ExperimentConfig dumped as JSON) goes to the parent run as dotted params;
    `params` (flattened the same way), `metrics`, `history` and `tags` to the step's run; `metrics` also to
    the parent run as `<step>/<metric>`; `files` to the parent run under their relative paths.
    """
    run = active_run()
    if run is None:
        return None
    step_run_id = run.info.run_id
    parent_id = parent_run_id(run)
    step_metrics = numeric_metrics(metrics or {})
    _log_batch(
        step_run_id,
        metrics=[(k, v, 0) for k, v in step_metrics.items()] + history_metrics(history),
        params=config_params(params or {}),
        tags={**identity.tags(), "zenml_step": identity.step, **(tags or {})},
    )
    if parent_id != step_run_id:
        _log_batch(
            parent_id,
            metrics=[(_key(f"{identity.step}/{k}"), v, 0) for k, v in step_metrics.items()],
            params=config_params(config or {}),
            tags=identity.tags(),
        )
    elif config:
        _log_batch(step_run_id, params=config_params(config))
    log_files(parent_id, files or {})
    return step_run_id
