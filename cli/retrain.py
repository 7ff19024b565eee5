"""Scheduled retraining (`causal-lattice retrain`): retrain only when fresh data has drifted from the
champion's training data.

The fresh data is whatever `parameters.experiment.data` names now. The reference is the data the current
`champion` was trained on: the champion's MLflow model version carries the ZenML run id (`zenml.run_id` tag),
and that run's `dataset` artifact is loaded from ZenML. Evidently's data-drift preset compares the two; the
decision and its report go to `results/retraining/<UTC time>/`. With drift (share of drifted features at or over
`retraining.drift_share_threshold`), no champion yet, or `--force`, the pipeline runs; otherwise it stops here.
The Kubernetes CronJob (k8s/cronjob.yaml) runs `causal-lattice retrain`.
"""

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from model.config import ExperimentConfig
from model.data.drift import RetrainDecision, retraining_decision
from model.data.tables import Dataset


def frame(dataset: Dataset) -> pd.DataFrame:
    return pd.DataFrame(dataset.features, columns=dataset.feature_names)


def champion_training_data() -> tuple[pd.DataFrame | None, str]:
    """The champion's training data (raw features) via its ZenML run, or None when there is no champion."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from zenml.client import Client

    from registry import CHAMPION, MODEL_NAME
    from registry.stack import active_mlflow_tracker

    tracker = active_mlflow_tracker()
    if tracker is None:
        return None, "the active ZenML stack has no MLflow tracker, so there is no champion to compare with"
    tracker.configure_mlflow()
    try:
        version = MlflowClient().get_model_version_by_alias(MODEL_NAME, CHAMPION)
    except MlflowException:
        return None, f"model {MODEL_NAME!r} has no {CHAMPION!r} alias yet"
    run_id = version.tags.get("zenml.run_id")
    if not run_id:
        return None, f"{MODEL_NAME} version {version.version} has no zenml.run_id tag"
    dataset = Client().get_pipeline_run(run_id).steps["load_data"].outputs["dataset"][0].load()
    assert isinstance(dataset, Dataset)
    return frame(dataset), f"{MODEL_NAME} version {version.version} (ZenML run {run_id})"


def write_decision(experiment: ExperimentConfig, decision: RetrainDecision, reference: str) -> Path:
    directory = Path(experiment.results_dir) / "retraining" / datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    directory.mkdir(parents=True, exist_ok=False)
    record = {"retrain": decision.retrain, "reason": decision.reason, "reference": reference}
    if decision.drift is not None:
        record |= {"drifted_share": decision.drift.drifted_share, "p_values": decision.drift.column_p_values}
        (directory / "drift_report.html").write_text(decision.drift.html)
    (directory / "decision.json").write_text(json.dumps(record, indent=2))
    return directory


def decide(experiment: ExperimentConfig, dataset: Dataset) -> tuple[RetrainDecision, str, Path]:
    """Compare `dataset` with the champion's training data; the decision, its reference and its folder."""
    reference, described = champion_training_data()
    decision = retraining_decision(reference, frame(dataset), experiment.retraining.drift_share_threshold)
    return decision, described, write_decision(experiment, decision, described)
