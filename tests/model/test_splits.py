"""Splits made once per data view, the typed DataView, and the Standardizer that owns scaling."""

from __future__ import annotations

import numpy as np
import pytest

from model.config import SplitConfig
from model.data.generator import make_synthetic_pancancer
from model.data.splits import (
    MAIN_VIEW,
    DataView,
    cohort_views,
    group_split,
    leave_one_group_out,
    make_splits,
    split_dataset,
    split_from_rows,
)
from model.data.tables import Dataset, Standardizer
from model.errors import DataValidationError
from tests.model.conftest import tiny_synthetic_config

# ---------------------------------------------------------------- splits and standardisation


def test_standardisation_is_fitted_on_train_only(tiny_dataset: Dataset) -> None:
    split = split_dataset(tiny_dataset, SplitConfig(test_fraction=0.25, min_group_size=10))
    assert split.train.features.shape[0] + split.test.features.shape[0] == tiny_dataset.features.shape[0]
    assert split.test.features.shape[0] == 30
    np.testing.assert_allclose(split.train.features.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(split.train.features.std(axis=0), 1.0, atol=1e-4)
    assert np.abs(split.test.features.mean(axis=0)).max() > 1e-3
    raw_train = split.train.features * split.standardizer.std + split.standardizer.mean
    np.testing.assert_allclose(raw_train.mean(axis=0), split.standardizer.mean, atol=1e-4)
    assert not np.allclose(tiny_dataset.features.mean(axis=0), split.standardizer.mean, atol=1e-4)
    # The test part is transformed with the train statistics: undoing them gives back original rows.
    raw_test = split.test.features * split.standardizer.std + split.standardizer.mean
    distance = np.abs(raw_test[:, None, :] - tiny_dataset.features[None, :, :]).max(axis=-1).min(axis=1)
    assert distance.max() < 1e-4


def test_split_is_stratified_by_group_and_label() -> None:
    data = make_synthetic_pancancer(tiny_synthetic_config(n_samples=600))
    split = split_dataset(data, SplitConfig(test_fraction=0.25, seed=0))

    def shares(part: Dataset) -> dict[tuple[str, int], float]:
        assert part.groups is not None and part.labels is not None
        keys, counts = np.unique(
            np.char.add(part.groups.astype(str), part.labels.astype(str)), return_counts=True
        )
        return {k: c / counts.sum() for k, c in zip(keys, counts, strict=True)}

    train, test = shares(split.train), shares(split.test)
    assert train.keys() == test.keys() and len(train) == 6
    for key in train:
        assert abs(train[key] - test[key]) < 0.02, key
    again = split_dataset(data, SplitConfig(test_fraction=0.25, seed=0))
    assert np.array_equal(again.test.features, split.test.features)


def test_group_split_and_leave_one_group_out(tiny_dataset: Dataset) -> None:
    config = SplitConfig(test_fraction=0.25, min_group_size=10)
    within = group_split(tiny_dataset, "lung", config)
    assert within.train.groups is not None and within.test.groups is not None
    assert set(within.train.groups) == set(within.test.groups) == {"lung"}
    assert within.train.name.endswith("[group:lung]")
    logo = leave_one_group_out(tiny_dataset, "colon")
    assert logo.train.groups is not None and logo.test.groups is not None
    assert set(logo.test.groups) == {"colon"} and "colon" not in set(logo.train.groups)
    assert logo.test.features.shape[0] == int((tiny_dataset.groups == "colon").sum())
    np.testing.assert_allclose(logo.train.features.mean(axis=0), 0.0, atol=1e-5)
    with pytest.raises(DataValidationError, match="'mars'"):
        leave_one_group_out(tiny_dataset, "mars")
    with pytest.raises(DataValidationError, match="'mars'"):
        group_split(tiny_dataset, "mars", config)


def test_standardizer_inverse_and_dict_round_trip() -> None:
    features = np.random.default_rng(0).normal(3.0, 2.0, size=(50, 4)).astype(np.float32)
    features[:, 2] = 1.0  # a constant column is scaled by 1, not divided by zero
    standardizer = Standardizer.fit(features)
    scaled = standardizer.transform(features)
    assert scaled.dtype == np.float32 and np.isfinite(scaled).all()
    np.testing.assert_allclose(standardizer.inverse(scaled), features, atol=1e-5)
    again = Standardizer.from_dict(standardizer.as_dict())
    np.testing.assert_array_equal(again.transform(features), scaled)


def test_data_view_text_round_trip_and_errors() -> None:
    views = [MAIN_VIEW, *cohort_views(["lung", "colon"])]
    assert [str(v) for v in views] == ["main", "group:lung", "logo:lung", "group:colon", "logo:colon"]
    assert [DataView.parse(str(v)) for v in views] == views
    for text in ("group", "main:lung", "cohort:lung", "logo:"):
        with pytest.raises(ValueError, match="unknown data view"):
            DataView.parse(text)
    with pytest.raises(ValueError, match="'main' takes no group"):
        DataView(kind="group")


def test_make_splits_makes_every_view_once(tiny_dataset: Dataset) -> None:
    config = SplitConfig(test_fraction=0.25, min_group_size=10)
    splits = make_splits(tiny_dataset, config, cohort_views(["lung", "colon"]))
    assert list(splits.by_view) == [MAIN_VIEW, *cohort_views(["lung", "colon"])]
    np.testing.assert_array_equal(
        splits.main.test.features, split_dataset(tiny_dataset, config).test.features
    )
    logo = splits[DataView(kind="logo", group="colon")]
    np.testing.assert_array_equal(
        logo.test.features, leave_one_group_out(tiny_dataset, "colon").test.features
    )
    with pytest.raises(DataValidationError, match="no split for data view logo:breast"):
        splits[DataView(kind="logo", group="breast")]
    # A split is its rows and its standardisation: applying them again gives the same split.
    for view, split in splits.by_view.items():
        again = split_from_rows(tiny_dataset, view, split.train_rows, split.test_rows, split.standardizer)
        np.testing.assert_array_equal(again.train.features, split.train.features)
        np.testing.assert_array_equal(again.test.features, split.test.features)
        assert again.train.name == split.train.name
    raw = splits.main.raw_test_frame().to_numpy()
    np.testing.assert_allclose(raw, tiny_dataset.features[splits.main.test_rows], atol=1e-5)


def test_split_with_a_singleton_stratum_still_stratifies() -> None:
    """A group x label cell with one row cannot be split; those rows fall back to label-only strata while
    every other cell stays stratified (not: stratification dropped for the whole data set)."""
    labels = np.array([0, 1] * 20 + [0] * 29 + [1] + [0] * 29 + [1])
    groups = np.array(["x"] * 40 + ["y"] * 30 + ["z"] * 30)
    data = _grouped_dataset(n=100, labels=labels, groups=groups)
    split = split_dataset(data, SplitConfig(test_fraction=0.25, seed=0, min_group_size=4))
    test = split.test
    assert test.groups is not None and test.labels is not None
    expected = {("x", 0): 5, ("x", 1): 5, ("y", 0): 7.25, ("z", 0): 7.25}
    for (group, label), count in expected.items():
        actual = int(((test.groups == group) & (test.labels == label)).sum())
        assert abs(actual - count) <= 1, (group, label, actual)
    assert int((test.labels == 1).sum()) in (5, 6, 7)


def _grouped_dataset(n: int, labels: np.ndarray, groups: np.ndarray) -> Dataset:
    rng = np.random.default_rng(0)
    return Dataset(
        features=rng.normal(size=(n, 3)).astype(np.float32),
        feature_names=["a", "b", "c"],
        labels=labels.astype(np.int64),
        class_names=["no", "yes"],
        groups=groups,
    )


@pytest.mark.parametrize(("fraction", "fix"), [(1e-9, "to at least 0.05"), (0.89, None)])
def test_a_test_fraction_that_leaves_a_side_without_every_stratum_is_refused(
    tiny_dataset: Dataset, fraction: float, fix: str | None
) -> None:
    """120 rows in 6 label x cohort strata: one test row cannot hold them all (the split used to fail inside
    scikit-learn); 0.89 leaves 13 training rows, enough."""
    config = SplitConfig(test_fraction=fraction, min_group_size=10)
    if fix is None:
        split = split_dataset(tiny_dataset, config)
        assert len(split.train.features) == 13
        return
    with pytest.raises(DataValidationError, match=rf"split\.test_fraction=1e-09 leaves 1 test .* {fix}"):
        split_dataset(tiny_dataset, config)
