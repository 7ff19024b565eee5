"""Loading and validating data: the shipped set, errors that name the fix (tables: test_tables.py, the
synthetic SCM: test_scm.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from model.config import BreastCancerDataConfig, SplitConfig
from model.data.sources import load_breast_cancer_dataset, load_dataset
from model.data.splits import split_dataset
from model.data.tables import Dataset
from model.data.validation import validate_dataset
from model.errors import DataValidationError

# ---------------------------------------------------------------- validation errors


def _dataset(n: int = 60, **changes: object) -> Dataset:
    rng = np.random.default_rng(0)
    base = Dataset(
        features=rng.normal(size=(n, 3)).astype(np.float32),
        feature_names=["a", "b", "c"],
        labels=(np.arange(n) % 2).astype(np.int64),
        class_names=["no", "yes"],
        groups=np.array(["x", "y"] * (n // 2)),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_valid_dataset_passes() -> None:
    validate_dataset(_dataset(), 20)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_value_names_feature_and_row(bad: float) -> None:
    data = _dataset()
    data.features[7, 1] = bad
    with pytest.raises(DataValidationError, match=r"feature 'b' .* at row 7"):
        validate_dataset(data, 20)


def test_single_class_label_is_rejected() -> None:
    data = _dataset(labels=np.zeros(60, dtype=np.int64))
    with pytest.raises(DataValidationError, match=r"single class \('no'\)"):
        validate_dataset(data, 20)


def test_small_group_is_named() -> None:
    groups = np.array(["x"] * 55 + ["tiny"] * 5)
    with pytest.raises(DataValidationError, match=r"\('tiny', 5\).*min_group_size=20"):
        validate_dataset(_dataset(groups=groups), 20)
    with pytest.raises(DataValidationError, match="tiny"):
        split_dataset(_dataset(groups=groups), SplitConfig())


def test_duplicate_feature_names_are_rejected() -> None:
    with pytest.raises(DataValidationError, match=r"duplicate feature name\(s\) \['a'\]"):
        validate_dataset(_dataset(feature_names=["a", "b", "a"]), 20)


def test_too_few_rows_are_rejected() -> None:
    with pytest.raises(DataValidationError, match="only 30 rows"):
        validate_dataset(_dataset(n=30, groups=None), 20)


# ---------------------------------------------------------------- shipped data


def test_breast_cancer_loader() -> None:
    data = load_dataset(BreastCancerDataConfig(), 20)
    assert data.features.shape == (569, 30)
    assert data.n_features == 30 and all(" " not in name for name in data.feature_names)
    assert data.class_names == ["malignant", "benign"]
    assert data.labels is not None and set(data.labels.tolist()) == {0, 1}
    assert data.groups is None and data.true_edges is None
    assert data.name == "breast_cancer"
    assert load_breast_cancer_dataset().fingerprint() == data.fingerprint()
    np.testing.assert_allclose(split_dataset(data, SplitConfig()).train.features.mean(axis=0), 0.0, atol=1e-4)
