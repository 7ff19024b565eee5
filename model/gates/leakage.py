"""Leakage checks for the promotion gates: a feature that is the label (or the group) again, under its own name
or another, and a perfect test accuracy that a plain baseline cannot come near.

A feature is flagged when it and the label (or the group) determine each other on every row: a copy (the same
values) or a one-to-one recoding (`response` as 0/1 beside `response_code` as 5/7). A model that reads such a
feature has learned the answer, not the task; its accuracy says nothing about new data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.artifacts import PromotionGate
from model.data.tables import Dataset
from model.gates.promotion import not_applicable


@dataclass(frozen=True)
class Leak:
    feature: str
    target: str  # "label" or "group"
    kind: str  # "copy" or "one-to-one recoding"

    def describe(self) -> str:
        return f"feature {self.feature!r} is a {self.kind} of the {self.target}"


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    uniques, codes = np.unique(values, return_inverse=True)
    return uniques, codes.reshape(-1)


def _determine_each_other(feature: np.ndarray, target_codes: np.ndarray, n_target: int) -> bool:
    """True when every value of `feature` goes with one target value and every target value with one feature
    value (a bijection on the rows)."""
    _, feature_codes = _codes(feature)
    if feature_codes.max(initial=-1) + 1 != n_target:
        return False
    pairs = np.unique(np.stack([feature_codes, target_codes]), axis=1)
    return pairs.shape[1] == n_target


def _is_copy(feature: np.ndarray, target_values: np.ndarray) -> bool:
    try:
        return bool(np.array_equal(feature.astype(np.float64), target_values.astype(np.float64)))
    except (TypeError, ValueError):
        return False


def leaking_features(dataset: Dataset) -> list[Leak]:
    """Features that copy or recode the label or the group one to one (a column of constants never does: the
    label has two classes or more)."""
    frame = pd.DataFrame(dataset.features, columns=dataset.feature_names)
    distinct = frame.nunique().to_numpy()
    targets: list[tuple[str, np.ndarray]] = []
    if dataset.labels is not None:
        names = np.asarray(dataset.class_names) if dataset.class_names else dataset.labels.astype(str)
        targets.append(("label", names[dataset.labels] if dataset.class_names else dataset.labels))
    if dataset.groups is not None:
        targets.append(("group", np.asarray(dataset.groups)))
    leaks = []
    for target, values in targets:
        uniques, codes = _codes(values)
        if len(uniques) < 2:
            continue
        for column in np.flatnonzero(distinct == len(uniques)):
            feature = dataset.features[:, column]
            if _determine_each_other(feature, codes, len(uniques)):
                kind = "copy" if _is_copy(feature, values) else "one-to-one recoding"
                leaks.append(Leak(dataset.feature_names[column], target, kind))
    return leaks


def integrity_gates(
    dataset: Dataset, test_accuracy: float | None, baseline_accuracy: float | None, margin: float
) -> list[PromotionGate]:
    """The two gates against a model that learned the answer instead of the task.

    `feature_leakage`: no feature copies or recodes the label or the group. `perfect_accuracy`: a held-out
    accuracy of 1.000 passes only when logistic regression on the same split reaches 1 - `margin` (an easy task);
    otherwise it is a leak the first gate cannot see (a near-copy, a split that shares rows) or a degenerate test
    set, and the model is not promoted."""
    gates = []
    if dataset.labels is None and dataset.groups is None:
        gates.append(
            not_applicable("feature_leakage", "= 0", "the data has no label or group column to leak")
        )
    else:
        leaks = leaking_features(dataset)
        gates.append(
            PromotionGate(
                name="feature_leakage",
                value=float(len(leaks)),
                threshold="= 0",
                passed=not leaks,
                reason="; ".join(leak.describe() for leak in leaks)
                + (": remove it from data.feature_columns" if leaks else ""),
            )
        )
    threshold = f"< 1 unless logistic regression >= {1 - margin:g}"
    if test_accuracy is None or not math.isfinite(test_accuracy):
        gates.append(
            not_applicable("perfect_accuracy", threshold, "the data has no label column: no accuracy")
        )
        return gates
    perfect = test_accuracy >= 1.0
    easy = baseline_accuracy is not None and baseline_accuracy >= 1 - margin
    baseline = "n/a" if baseline_accuracy is None else f"{baseline_accuracy:.3f}"
    gates.append(
        PromotionGate(
            name="perfect_accuracy",
            value=test_accuracy,
            threshold=threshold,
            passed=not perfect or easy,
            reason=(
                f"test accuracy 1.000 where logistic regression on the same split reaches {baseline}: "
                "look for a leaking feature or a degenerate test split"
                if perfect and not easy
                else ""
            ),
        )
    )
    return gates
