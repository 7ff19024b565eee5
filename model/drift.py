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
