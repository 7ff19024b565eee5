"""Distribution drift between cohorts or between fresh data and training data, with Evidently."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset


@dataclass(frozen=True)
class DriftResult:
    drifted_share: float
    drifted_count: int
    column_p_values: dict[str, float]
    html: str


def data_drift(reference: pd.DataFrame, current: pd.DataFrame) -> DriftResult:
    """Evidently's DataDriftPreset: per-column drift tests and the share of drifted columns."""
    snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    values: dict[str, float] = {}
    drifted_share, drifted_count = 0.0, 0
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            drifted_share = float(metric["value"]["share"])
            drifted_count = int(metric["value"]["count"])
        elif config["type"].endswith("ValueDrift"):
            values[str(config["column"])] = float(metric["value"])
    return DriftResult(drifted_share, drifted_count, values, snapshot.get_html_str(as_iframe=False))


@dataclass(frozen=True)
class RetrainDecision:
    retrain: bool
    reason: str
    drift: DriftResult | None


def retraining_decision(
    reference: pd.DataFrame | None, current: pd.DataFrame, drift_share_threshold: float
) -> RetrainDecision:
    """Retrain when there is no reference (no champion yet) or when the share of drifted feature columns of the
    fresh data against the champion's training data reaches `drift_share_threshold`."""
    if reference is None:
        return RetrainDecision(True, "no champion to compare against: train", None)
    missing = sorted(set(reference.columns) - set(current.columns))
    if missing:
        return RetrainDecision(
            True, f"fresh data lacks the champion's feature columns {missing}: train", None
        )
    drift = data_drift(reference, current[list(reference.columns)])
    verdict = drift.drifted_share >= drift_share_threshold
    reason = (
        f"{drift.drifted_count} of {len(drift.column_p_values)} features drifted "
        f"(share {drift.drifted_share:.2f} {'>=' if verdict else '<'} threshold {drift_share_threshold})"
    )
    return RetrainDecision(verdict, reason, drift)
