"""Every data source of a configuration to a validated `Dataset`: the synthetic SCM, the shipped Wisconsin set,
or a user's table with its optional edge list (read through the front door, `model.data.files`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from model.config import BreastCancerDataConfig, DataSource, SyntheticDataConfig, TableDataConfig
from model.data.files import read_table_file
from model.data.generator import make_synthetic_pancancer
from model.data.tables import Dataset
from model.data.validation import (
    MAX_ABS_VALUE,
    check_duplicate_names,
    check_edges,
    check_label_values,
    validate_dataset,
)
from model.errors import DataValidationError

# Feature dtypes a model can read: numbers and booleans (as 0/1). Complex numbers, dates, durations, text and
# nested Parquet types are not.
_NUMERIC_KINDS = "biuf"


def _roles(config: TableDataConfig, columns: list[str]) -> list[str]:
    """The feature columns, after checking the label and group columns against the file and each other."""
    path = config.path
    for role, column in (("label_column", config.label_column), ("group_column", config.group_column)):
        if column is not None and column not in columns:
            shown = columns[:20] + (["..."] if len(columns) > 20 else [])
            raise DataValidationError(f"{role} {column!r} is not a column of {path}; columns are {shown}")
    if config.label_column is not None and config.label_column == config.group_column:
        raise DataValidationError(
            f"data.label_column and data.group_column are both {config.label_column!r}: a cohort column is "
            "not the label; set one of them to another column"
        )
    reserved = {config.label_column, config.group_column} - {None}
    if config.feature_columns is None:
        features = [c for c in columns if c not in reserved]
    else:
        check_duplicate_names(config.feature_columns, "feature")
        for role, column in (("label_column", config.label_column), ("group_column", config.group_column)):
            if column is not None and column in config.feature_columns:
                why = "the model would read the answer" if role == "label_column" else "the cohort identity"
                raise DataValidationError(
                    f"{role} {column!r} is also listed in data.feature_columns ({why} would be a feature): "
                    "remove it from data.feature_columns"
                )
        missing = [c for c in config.feature_columns if c not in columns]
        if missing:
            raise DataValidationError(
                f"feature column(s) {missing} missing from {path}: fix data.feature_columns or the file"
            )
        features = list(config.feature_columns)
    if not features:
        raise DataValidationError(f"{path} has no feature columns besides the label and group columns")
    return features


def _features(frame: pd.DataFrame, columns: list[str], path: Path) -> np.ndarray:
    for column in columns:
        if frame[column].dtype.kind == "O":  # integers beyond int64 are read as text: numbers all the same
            numbers = pd.to_numeric(frame[column], errors="coerce")
            if not (numbers.isna() & frame[column].notna()).any():
                frame[column] = numbers.astype(np.float64)
    non_numeric = [c for c in columns if frame[c].dtype.kind not in _NUMERIC_KINDS]
    if non_numeric:
        column = non_numeric[0]
        values = frame[column]
        bad = values[pd.to_numeric(values, errors="coerce").isna() & values.notna()]
        example = f" (row {bad.index[0]}: {str(bad.iloc[0])[:40]!r})" if len(bad) else ""
        shown = non_numeric[:10] + (["..."] if len(non_numeric) > 10 else [])
        raise DataValidationError(
            f"feature column(s) {shown} are not numeric{example}: encode them as numbers or exclude them via "
            "data.feature_columns"
        )
    values = frame[columns].to_numpy(dtype=np.float64, na_value=np.nan)
    # Checked before the cast to float32, where values beyond its range would silently become inf.
    with np.errstate(invalid="ignore"):
        huge = np.isfinite(values) & (np.abs(values) > MAX_ABS_VALUE)
    if huge.any():
        row, col = (int(v) for v in np.argwhere(huge)[0])
        raise DataValidationError(
            f"feature {columns[col]!r} has the value {values[row, col]:.3g} at row {row}, beyond +-{MAX_ABS_VALUE:.0e}"
            ": values this large overflow in float32 statistics; rescale the column (for example log1p)"
        )
    return values.astype(np.float32)


def load_table(config: TableDataConfig) -> Dataset:
    """Load a user's CSV/Parquet table with named feature columns and optional label/group/edge list."""
    frame = read_table_file(config.path, "data file", "data.path")
    check_duplicate_names(list(frame.columns), "column")
    feature_columns = _roles(config, list(frame.columns))
    features = _features(frame, feature_columns, config.path)
    labels: np.ndarray | None = None
    class_names: list[str] = []
    if config.label_column is not None:
        labels, class_names = check_label_values(frame[config.label_column], config.label_column)
    groups = None
    if config.group_column is not None:
        group_series = frame[config.group_column]
        if group_series.isna().any():
            row = int(np.flatnonzero(group_series.isna().to_numpy())[0])
            raise DataValidationError(f"group column {config.group_column!r} is empty at row {row}")
        groups = group_series.astype(str).to_numpy()
    true_edges = None
    if config.edges_path is not None:
        edges = read_table_file(config.edges_path, "edge list", "data.edges_path")
        true_edges = check_edges(edges, feature_columns, config.edges_path)
    return Dataset(
        features=features,
        feature_names=feature_columns,
        labels=labels,
        class_names=class_names,
        groups=groups,
        true_edges=true_edges,
        name=config.path.stem,
    )


def load_dataset(source: DataSource, min_group_size: int) -> Dataset:
    """Load the dataset a config names and validate it (`min_group_size`: the config's
    `split.min_group_size`)."""
    if isinstance(source, SyntheticDataConfig):
        dataset = make_synthetic_pancancer(source)
    elif isinstance(source, BreastCancerDataConfig):
        dataset = load_breast_cancer_dataset()
    else:
        dataset = load_table(source)
    validate_dataset(dataset, min_group_size)
    return dataset


def load_breast_cancer_dataset() -> Dataset:
    """The Wisconsin breast cancer set shipped inside scikit-learn (no network)."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    names = [str(n).replace(" ", "_") for n in bunch.feature_names]
    return Dataset(
        features=np.asarray(bunch.data, dtype=np.float32),
        feature_names=names,
        labels=np.asarray(bunch.target, dtype=np.int64),
        class_names=[str(n) for n in bunch.target_names],
        name="breast_cancer",
    )
