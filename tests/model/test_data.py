from __future__ import annotations

import dataclasses
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from model.config import BreastCancerDataConfig, SplitConfig, TableDataConfig
from model.data import (
    GROUPS,
    Dataset,
    DataValidationError,
    Standardizer,
    group_split,
    leave_one_group_out,
    load_breast_cancer_dataset,
    load_dataset,
    load_table,
    make_splits,
    make_synthetic_pancancer,
    split_dataset,
    split_from_rows,
    validate_dataset,
)
from model.data_view import MAIN_VIEW, DataView, cohort_views
from tests.model.conftest import tiny_synthetic_config

# ---------------------------------------------------------------- synthetic SCM


def test_synthetic_is_seeded() -> None:
    first = make_synthetic_pancancer(tiny_synthetic_config())
    second = make_synthetic_pancancer(tiny_synthetic_config())
    assert np.array_equal(first.features, second.features)
    assert first.labels is not None and second.labels is not None
    assert np.array_equal(first.labels, second.labels)
    assert first.groups is not None and second.groups is not None
    assert np.array_equal(first.groups, second.groups)
    assert first.feature_names == second.feature_names
    assert first.true_edges == second.true_edges
    assert first.fingerprint() == second.fingerprint()
    other = make_synthetic_pancancer(tiny_synthetic_config(seed=4))
    assert not np.array_equal(first.features, other.features)
    assert first.fingerprint() != other.fingerprint()


def test_synthetic_shapes_groups_labels() -> None:
    data = make_synthetic_pancancer(tiny_synthetic_config(n_samples=300, n_genes=8, n_biomarkers=3))
    assert data.features.shape == (300, 11) and data.features.dtype == np.float32
    assert data.n_features == 11 and len(set(data.feature_names)) == 11
    assert sum(name.startswith("biomarker_") for name in data.feature_names) == 3
    assert data.groups is not None and set(data.groups) == set(GROUPS) == {"lung", "colon", "breast"}
    assert data.labels is not None and set(data.labels.tolist()) == {0, 1}
    assert data.n_classes == 2
    validate_dataset(data, 20)


def test_synthetic_true_dag_is_acyclic_over_feature_names() -> None:
    data = make_synthetic_pancancer(tiny_synthetic_config(n_samples=200, n_genes=12, edge_probability=0.4))
    graph = data.true_graph()
    assert graph is not None
    assert graph.number_of_edges() > 0
    assert nx.is_directed_acyclic_graph(graph)
    assert list(graph.nodes) == data.feature_names
    for source, target in graph.edges:
        assert source in data.feature_names and target in data.feature_names
        assert source.startswith("gene_") and target.startswith("gene_")


def test_synthetic_biomarkers_are_label_correlates_that_differ_by_cohort() -> None:
    data = make_synthetic_pancancer(tiny_synthetic_config(n_samples=1500, n_genes=6, n_biomarkers=2))
    assert data.labels is not None and data.groups is not None
    column = data.features[:, data.feature_names.index("biomarker_0")]
    gaps = {}
    for group in GROUPS:
        in_group = data.groups == group
        gaps[group] = (
            column[in_group & (data.labels == 1)].mean() - column[in_group & (data.labels == 0)].mean()
        )
    assert gaps["lung"] > gaps["colon"] > gaps["breast"]


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


# ---------------------------------------------------------------- tables


def _frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": rng.integers(0, 5, size=n),
            "diagnosis": np.where(np.arange(n) % 3 == 0, "tumour", "normal"),
            "site": np.array(["lung", "colon"] * (n // 2)),
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_load_table_csv_and_parquet(tmp_path: Path, suffix: str) -> None:
    frame = _frame()
    path = tmp_path / f"cohort{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path, index=False)
    config = TableDataConfig(path=path, label_column="diagnosis", group_column="site")
    data = load_dataset(config, 20)
    assert data.feature_names == ["a", "b", "c"]
    assert data.features.dtype == np.float32
    np.testing.assert_allclose(data.features, frame[["a", "b", "c"]].to_numpy(), rtol=1e-6)
    assert data.class_names == ["normal", "tumour"]
    assert data.labels is not None and data.labels.tolist()[:3] == [1, 0, 0]
    assert data.groups is not None and set(data.groups) == {"lung", "colon"}
    assert data.name == "cohort" and data.true_edges is None
    only_ab = load_table(TableDataConfig(path=path, feature_columns=["b", "a"], label_column="diagnosis"))
    assert only_ab.feature_names == ["b", "a"] and only_ab.groups is None


def test_load_table_with_edge_list(tmp_path: Path) -> None:
    path = tmp_path / "cohort.csv"
    _frame().to_csv(path, index=False)
    edges = tmp_path / "edges.csv"
    pd.DataFrame({"source": ["a", "b"], "target": ["b", "c"]}).to_csv(edges, index=False)
    data = load_table(
        TableDataConfig(path=path, label_column="diagnosis", group_column="site", edges_path=edges)
    )
    assert data.true_edges == [("a", "b"), ("b", "c")]
    graph = data.true_graph()
    assert graph is not None and set(graph.edges) == {("a", "b"), ("b", "c")}


def _write_csv(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


def test_missing_feature_column_is_named(tmp_path: Path) -> None:
    path = _write_csv(tmp_path, _frame())
    with pytest.raises(DataValidationError, match=r"\['zz'\] missing"):
        load_table(TableDataConfig(path=path, feature_columns=["a", "zz"]))


def test_non_numeric_column_names_column_and_row(tmp_path: Path) -> None:
    frame = _frame()
    frame["b"] = frame["b"].astype(object)
    frame.loc[4, "b"] = "high"
    path = _write_csv(tmp_path, frame)
    with pytest.raises(DataValidationError, match=r"\['b'\] are not numeric \(row 4: 'high'\)"):
        load_table(TableDataConfig(path=path, label_column="diagnosis", group_column="site"))


def test_nan_in_table_names_feature_and_row(tmp_path: Path) -> None:
    frame = _frame()
    frame.loc[9, "c"] = np.nan
    path = _write_csv(tmp_path, frame)
    with pytest.raises(DataValidationError, match=r"feature 'c' has a non-finite value \(nan\) at row 9"):
        load_dataset(TableDataConfig(path=path, label_column="diagnosis", group_column="site"), 20)


def test_label_with_one_class_in_table(tmp_path: Path) -> None:
    frame = _frame()
    frame["diagnosis"] = "tumour"
    path = _write_csv(tmp_path, frame)
    with pytest.raises(DataValidationError, match=r"single class \('tumour'\)"):
        load_dataset(TableDataConfig(path=path, label_column="diagnosis", group_column="site"), 20)


def test_small_group_in_table(tmp_path: Path) -> None:
    frame = _frame()
    frame.loc[:2, "site"] = "breast"
    path = _write_csv(tmp_path, frame)
    with pytest.raises(DataValidationError, match=r"\('breast', 3\)"):
        load_dataset(TableDataConfig(path=path, label_column="diagnosis", group_column="site"), 20)


def test_load_dataset_uses_the_given_min_group_size(tmp_path: Path) -> None:
    frame = _frame(n=100)
    frame["site"] = ["lung"] * 30 + ["colon"] * 70
    path = _write_csv(tmp_path, frame)
    config = TableDataConfig(path=path, label_column="diagnosis", group_column="site")
    assert load_dataset(config, 30).features.shape[0] == 100
    with pytest.raises(DataValidationError, match=r"\('lung', 30\).*min_group_size=31"):
        load_dataset(config, 31)


def test_missing_label_and_group_columns_are_named(tmp_path: Path) -> None:
    path = _write_csv(tmp_path, _frame())
    with pytest.raises(DataValidationError, match=r"label_column 'target' is not a column"):
        load_table(TableDataConfig(path=path, label_column="target"))
    with pytest.raises(DataValidationError, match=r"group_column 'cancer' is not a column"):
        load_table(TableDataConfig(path=path, group_column="cancer"))


def test_empty_label_cell_names_row(tmp_path: Path) -> None:
    frame = _frame()
    frame.loc[5, "diagnosis"] = None
    path = _write_csv(tmp_path, frame)
    with pytest.raises(DataValidationError, match=r"'diagnosis' is empty at row 5"):
        load_table(TableDataConfig(path=path, label_column="diagnosis", group_column="site"))


def test_duplicate_feature_columns_are_rejected(tmp_path: Path) -> None:
    path = _write_csv(tmp_path, _frame())
    with pytest.raises(DataValidationError, match=r"duplicate feature name\(s\) \['a'\]"):
        load_table(TableDataConfig(path=path, feature_columns=["a", "b", "a"]))


def test_duplicate_csv_header_is_rejected(tmp_path: Path) -> None:
    """pandas silently renames a repeated CSV header to `a.1`; the loader must refuse it instead."""
    path = tmp_path / "dup.csv"
    path.write_text("a,b,a\n" + "".join(f"{i},{i + 1},{i + 2}\n" for i in range(50)))
    with pytest.raises(DataValidationError, match=r"duplicate column name\(s\) \['a'\]"):
        load_table(TableDataConfig(path=path))


def test_edge_list_naming_unknown_feature(tmp_path: Path) -> None:
    path = _write_csv(tmp_path, _frame())
    edges = tmp_path / "edges.csv"
    pd.DataFrame({"source": ["a", "zz"], "target": ["b", "c"]}).to_csv(edges, index=False)
    with pytest.raises(DataValidationError, match=r"row 1 names 'zz', which is not a feature column"):
        load_table(
            TableDataConfig(path=path, label_column="diagnosis", group_column="site", edges_path=edges)
        )
    bad_columns = tmp_path / "bad_edges.csv"
    pd.DataFrame({"from": ["a"], "to": ["b"]}).to_csv(bad_columns, index=False)
    with pytest.raises(DataValidationError, match="'source' and 'target'"):
        load_table(
            TableDataConfig(path=path, label_column="diagnosis", group_column="site", edges_path=bad_columns)
        )


def test_missing_file_and_bad_extension(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="does not exist"):
        load_table(TableDataConfig(path=tmp_path / "nope.csv"))
    other = tmp_path / "data.xlsx"
    other.write_text("x")
    with pytest.raises(DataValidationError, match=r"unsupported extension '\.xlsx'"):
        load_table(TableDataConfig(path=other))


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
    split = split_dataset(data, SplitConfig())
    np.testing.assert_allclose(split.train.features.mean(axis=0), 0.0, atol=1e-4)


def test_split_with_a_singleton_stratum_still_stratifies() -> None:
    """A group x label cell with one row cannot be split; those rows fall back to label-only strata while
    every other cell stays stratified (not: stratification dropped for the whole data set)."""
    labels = np.array([0, 1] * 20 + [0] * 29 + [1] + [0] * 29 + [1])
    groups = np.array(["x"] * 40 + ["y"] * 30 + ["z"] * 30)
    data = _dataset(n=100, labels=labels, groups=groups)
    split = split_dataset(data, SplitConfig(test_fraction=0.25, seed=0, min_group_size=4))
    test = split.test
    assert test.groups is not None and test.labels is not None
    expected = {("x", 0): 5, ("x", 1): 5, ("y", 0): 7.25, ("z", 0): 7.25}
    for (group, label), count in expected.items():
        actual = int(((test.groups == group) & (test.labels == label)).sum())
        assert abs(actual - count) <= 1, (group, label, actual)
    assert int((test.labels == 1).sum()) in (5, 6, 7)
