"""A user's CSV/Parquet table: loading, and every bad input named with its fix before any training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.config import TableDataConfig
from model.data.sources import load_dataset, load_table
from model.errors import DataValidationError

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
