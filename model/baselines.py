"""Prediction baselines on the same rows as the model: scikit-learn classifiers on every feature, and the
oracle (logistic regression on the label's true parents) where the data knows them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from model.data import Dataset

BASELINES: dict[str, Callable[[int], ClassifierMixin]] = {
    "logistic_regression": lambda seed: LogisticRegression(max_iter=2000, random_state=seed),
    "hist_gradient_boosting": lambda seed: HistGradientBoostingClassifier(random_state=seed),
    "mlp": lambda seed: MLPClassifier(hidden_layer_sizes=(64, 64), max_iter=500, random_state=seed),
}


def baseline_accuracy(name: str, train: Dataset, test: Dataset, seed: int = 0) -> float:
    """Test accuracy of baseline `name` fitted on `train` (both standardised the same way)."""
    if train.labels is None or test.labels is None:
        raise ValueError("baselines need a label column")
    classifier = BASELINES[name](seed).fit(train.features, train.labels)
    return float(classifier.score(test.features, test.labels))


def oracle_accuracy(train: Dataset, test: Dataset) -> float | None:
    """Logistic regression on the label's true parents; None when the data does not know them."""
    if not train.label_parents or train.labels is None or test.labels is None:
        return None
    columns = np.array([train.feature_names.index(name) for name in train.label_parents])
    classifier = LogisticRegression(max_iter=2000).fit(train.features[:, columns], train.labels)
    return float(classifier.score(test.features[:, columns], test.labels))
