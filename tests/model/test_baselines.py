"""model/evaluation/baselines.py: the readers on a subset of the features and the causal ceiling (issue 21)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from model.data.tables import Dataset
from model.evaluation.baselines import (
    BASELINES,
    baseline_accuracies,
    best_of,
    causal_ceiling,
    feature_subset,
    oracle_accuracy,
)


def _product_label(n: int, seed: int) -> Dataset:
    """The label is the sign of the product of the two causes c0 and c1 (no linear reader does better than
    chance); n0 is noise."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, 3)).astype(np.float32)
    labels = (features[:, 0] * features[:, 1] > 0).astype(np.int64)
    return Dataset(
        features=features,
        feature_names=["c0", "c1", "n0"],
        labels=labels,
        class_names=["no", "yes"],
        label_parents=["c0", "c1"],
    )


def test_feature_subset_keeps_the_named_columns_in_order() -> None:
    data = _product_label(10, 0)
    subset = feature_subset(data, ["n0", "c0"])
    assert subset.feature_names == ["n0", "c0"]
    np.testing.assert_array_equal(subset.features, data.features[:, [2, 0]])
    with pytest.raises(KeyError, match="no_such"):
        feature_subset(data, ["no_such"])


def test_the_causal_ceiling_is_the_best_reader_of_the_true_parents() -> None:
    train, test = _product_label(600, 0), _product_label(400, 1)
    ceiling = causal_ceiling(train, test)
    assert ceiling is not None and set(ceiling["readers"]) == set(BASELINES)
    assert ceiling["accuracy"] == max(ceiling["readers"].values())
    assert ceiling["reader"] != "logistic_regression" and ceiling["accuracy"] > 0.9
    assert ceiling["readers"]["logistic_regression"] < 0.65
    # Its logistic regression is the former oracle's number.
    assert ceiling["readers"]["logistic_regression"] == oracle_accuracy(train, test)


def test_no_parents_no_ceiling_and_no_features_nothing_to_fit() -> None:
    train, test = _product_label(100, 0), _product_label(50, 1)
    assert causal_ceiling(dataclasses.replace(train, label_parents=None), test) is None
    assert baseline_accuracies(train, test, []) == dict.fromkeys(BASELINES)
    assert best_of(dict.fromkeys(BASELINES)) == {
        "accuracy": None,
        "reader": None,
        "readers": dict.fromkeys(BASELINES),
    }
    assert best_of({"a": 0.7, "b": 0.8, "c": 0.8})["reader"] == "b"
