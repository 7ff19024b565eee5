"""Prediction baselines on the same rows as the model: scikit-learn classifiers (logistic regression, gradient
boosting, an MLP) on every feature or on a chosen subset of them (the features a model may read), and the causal
ceiling: the best of them on the label's true parents, where the data knows them (issue 21)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from model.data.tables import Dataset

BASELINES: dict[str, Callable[[int], ClassifierMixin]] = {
    "logistic_regression": lambda seed: LogisticRegression(max_iter=2000, random_state=seed),
    "hist_gradient_boosting": lambda seed: HistGradientBoostingClassifier(random_state=seed),
    "mlp": lambda seed: MLPClassifier(hidden_layer_sizes=(64, 64), max_iter=500, random_state=seed),
}


def feature_subset(dataset: Dataset, names: Sequence[str]) -> Dataset:
    """`dataset` with only the feature columns `names`, in that order (an unknown name is a KeyError)."""
    missing = sorted(set(names) - set(dataset.feature_names))
    if missing:
        raise KeyError(f"features {missing} are not columns of {dataset.name}")
    columns = np.array([dataset.feature_names.index(name) for name in names], dtype=np.int64)
    return dataclasses.replace(dataset, features=dataset.features[:, columns], feature_names=list(names))


def baseline_accuracy(name: str, train: Dataset, test: Dataset, seed: int = 0) -> float:
    """Test accuracy of baseline `name` fitted on `train` (both standardised the same way)."""
    if train.labels is None or test.labels is None:
        raise ValueError("baselines need a label column")
    classifier = BASELINES[name](seed).fit(train.features, train.labels)
    return float(classifier.score(test.features, test.labels))


def baseline_accuracies(
    train: Dataset, test: Dataset, features: Sequence[str] | None = None, seed: int = 0
) -> dict[str, float | None]:
    """Every baseline's test accuracy on the columns `features` (None: every feature). With no feature to read,
    each is None: there is nothing to fit."""
    if features is not None:
        train, test = feature_subset(train, features), feature_subset(test, features)
    if train.n_features == 0:
        return dict.fromkeys(BASELINES)
    return {name: baseline_accuracy(name, train, test, seed) for name in BASELINES}


def best_of(accuracies: dict[str, float | None]) -> dict[str, Any]:
    """The best reader of `accuracies` (the first listed among equals): its accuracy, its name, and every
    reader's accuracy. With none fitted, accuracy and reader are None."""
    fitted = {name: value for name, value in accuracies.items() if value is not None}
    reader = max(fitted, key=lambda name: fitted[name]) if fitted else None
    return {
        "accuracy": None if reader is None else fitted[reader],
        "reader": reader,
        "readers": accuracies,
    }


def causal_ceiling(train: Dataset, test: Dataset, seed: int = 0) -> dict[str, Any] | None:
    """The best of the baselines on the label's true parents (`best_of`): what a reader of the label's causes
    reaches on these rows, linear or not. None when the data does not know the parents."""
    if not train.label_parents or train.labels is None or test.labels is None:
        return None
    return best_of(baseline_accuracies(train, test, train.label_parents, seed))


def oracle_accuracy(train: Dataset, test: Dataset) -> float | None:
    """Logistic regression on the label's true parents; None when the data does not know them."""
    if not train.label_parents or train.labels is None or test.labels is None:
        return None
    parents = train.label_parents
    return baseline_accuracy(
        "logistic_regression", feature_subset(train, parents), feature_subset(test, parents)
    )
