"""Evidently drift and the retraining decision."""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.data.drift import data_drift, retraining_decision

COLUMNS = ["a", "b", "c", "d"]


def _frame(shift: list[float], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(300, 4)) + np.asarray(shift), columns=COLUMNS)


def test_data_drift_flags_the_shifted_columns_only() -> None:
    result = data_drift(_frame([0, 0, 0, 0], 0), _frame([0, 2.0, 0, 0], 1))
    assert result.drifted_count == 1
    assert result.drifted_share == 0.25
    assert result.column_p_values["b"] < 0.05 < result.column_p_values["a"]
    assert "<html" in result.html.lower()


def test_no_champion_means_retrain() -> None:
    decision = retraining_decision(None, _frame([0, 0, 0, 0], 1), 0.25)
    assert decision.retrain and decision.drift is None


def test_same_distribution_does_not_retrain() -> None:
    decision = retraining_decision(_frame([0, 0, 0, 0], 0), _frame([0, 0, 0, 0], 1), 0.25)
    assert not decision.retrain
    assert "0 of 4 features drifted" in decision.reason


def test_drift_over_the_threshold_retrains() -> None:
    decision = retraining_decision(_frame([0, 0, 0, 0], 0), _frame([1.5, 1.5, 0, 0], 1), 0.25)
    assert decision.retrain
    assert "2 of 4 features drifted" in decision.reason


def test_missing_champion_columns_retrain() -> None:
    decision = retraining_decision(_frame([0, 0, 0, 0], 0), _frame([0, 0, 0, 0], 1).drop(columns=["d"]), 0.25)
    assert decision.retrain and "['d']" in decision.reason
