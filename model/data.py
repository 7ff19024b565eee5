"""Data for the causal lattice model: the synthetic pan-cancer SCM, table and shipped loaders, validation,
stratified splits and train-only standardisation.

Every loader returns a `Dataset`; `validate_dataset` rejects bad input with a `DataValidationError` that names
the column or row and the fix, before any training.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from model.config import (
    BreastCancerDataConfig,
    DataSource,
    SplitConfig,
    SyntheticDataConfig,
    TableDataConfig,
)
from model.data_view import MAIN_VIEW, DataView
from model.dataset import Dataset
from model.scm import make_synthetic_pancancer


class DataValidationError(ValueError):
    """Input data cannot be used; the message names the column/row and how to fix it."""


@dataclass(frozen=True)
class Standardizer:
    """Per-feature mean/std fitted on a training part only: the one place features are scaled.

    `transform` maps raw features to the scale the model trains on, `inverse` maps them back. It travels with
    the trained model (`TrainedModel.standardizer`) into the MLflow pyfunc (`as_dict` / `from_dict`).
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, features: np.ndarray) -> Standardizer:
        std = features.std(axis=0)
        return cls(mean=features.mean(axis=0), std=np.where(std > 0, std, 1.0))

    def transform(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.std).astype(np.float32)

    def inverse(self, features: np.ndarray) -> np.ndarray:
        return features.astype(np.float64) * self.std + self.mean

    def as_dict(self) -> dict[str, list[float]]:
        return {"mean": np.asarray(self.mean).tolist(), "std": np.asarray(self.std).tolist()}

    @classmethod
    def from_dict(cls, values: dict[str, list[float]]) -> Standardizer:
        return cls(
            mean=np.asarray(values["mean"], dtype=np.float32), std=np.asarray(values["std"], dtype=np.float32)
        )


@dataclass(frozen=True)
class DataSplit:
    """Standardised train and test parts of one data view, and which rows of the whole dataset they are."""

    train: Dataset
    test: Dataset
    standardizer: Standardizer
    train_rows: np.ndarray  # (n_train,) int64 row indices into the dataset the split was made from
    test_rows: np.ndarray

    def raw_test_frame(self) -> pd.DataFrame:
        """The test rows back on their raw scale, as a DataFrame of the feature columns."""
        return pd.DataFrame(self.standardizer.inverse(self.test.features), columns=self.test.feature_names)


@dataclass(frozen=True)
class DataSplits:
    """Every data view's split of one dataset, made once (the load_data step) and looked up by view."""

    dataset: Dataset
    by_view: dict[DataView, DataSplit]

    @property
    def main(self) -> DataSplit:
        return self[MAIN_VIEW]

    def __getitem__(self, view: DataView) -> DataSplit:
        if view not in self.by_view:
            raise DataValidationError(
                f"no split for data view {view} (made: {', '.join(map(str, self.by_view))}): "
                "name its cohort in evaluation.subsets"
            )
        return self.by_view[view]


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


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataValidationError(
            f"data file {path} does not exist: set data.path to an existing CSV or Parquet"
        )
    suffix = path.suffix.lower()
    if suffix == ".csv":
        # pandas silently renames a repeated header `a` to `a.1`; check the raw header first.
        with path.open(newline="") as handle:
            _check_duplicate_names(next(csv.reader(handle), []), "column")
        return pd.read_csv(path)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    raise DataValidationError(f"data file {path}: unsupported extension {suffix!r}; use .csv or .parquet")


def _check_duplicate_names(names: list[str], what: str) -> None:
    seen: set[str] = set()
    duplicates = sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]
    if duplicates:
        raise DataValidationError(
            f"duplicate {what} name(s) {duplicates}: rename the columns so every feature name is unique"
        )


def load_table(config: TableDataConfig) -> Dataset:
    """Load a user's CSV/Parquet table with named feature columns and optional label/group/edge list."""
    frame = _read_table(config.path)
    _check_duplicate_names([str(c) for c in frame.columns], "column")
    for role, column in (("label_column", config.label_column), ("group_column", config.group_column)):
        if column is not None and column not in frame.columns:
            raise DataValidationError(
                f"{role} {column!r} is not a column of {config.path}; columns are {list(frame.columns)}"
            )
    reserved = {config.label_column, config.group_column}
    if config.feature_columns is not None:
        _check_duplicate_names(config.feature_columns, "feature")
        missing = [c for c in config.feature_columns if c not in frame.columns]
        if missing:
            raise DataValidationError(
                f"feature column(s) {missing} missing from {config.path}: "
                "fix data.feature_columns or the file"
            )
        feature_columns = list(config.feature_columns)
    else:
        feature_columns = [str(c) for c in frame.columns if c not in reserved]
    if not feature_columns:
        raise DataValidationError(f"{config.path} has no feature columns besides the label and group columns")
    non_numeric = [c for c in feature_columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        column = non_numeric[0]
        bad = frame[column][pd.to_numeric(frame[column], errors="coerce").isna() & frame[column].notna()]
        example = f" (row {bad.index[0]}: {bad.iloc[0]!r})" if len(bad) else ""
        raise DataValidationError(
            f"feature column(s) {non_numeric} are not numeric{example}: encode them as numbers or "
            "exclude them via data.feature_columns"
        )
    labels, class_names = None, []
    if config.label_column is not None:
        label_series = frame[config.label_column]
        if label_series.isna().any():
            row = int(np.flatnonzero(label_series.isna().to_numpy())[0])
            raise DataValidationError(
                f"label column {config.label_column!r} is empty at row {row}: fill or drop unlabeled rows"
            )
        codes, uniques = pd.factorize(label_series, sort=True)
        labels, class_names = codes.astype(np.int64), [str(u) for u in uniques]
    groups = None
    if config.group_column is not None:
        group_series = frame[config.group_column]
        if group_series.isna().any():
            row = int(np.flatnonzero(group_series.isna().to_numpy())[0])
            raise DataValidationError(f"group column {config.group_column!r} is empty at row {row}")
        groups = group_series.astype(str).to_numpy()
    true_edges = _load_edges(config.edges_path, feature_columns) if config.edges_path else None
    return Dataset(
        features=frame[feature_columns].to_numpy(dtype=np.float64).astype(np.float32),
        feature_names=feature_columns,
        labels=labels,
        class_names=class_names,
        groups=groups,
        true_edges=true_edges,
        name=config.path.stem,
    )


def _load_edges(path: Path, feature_names: list[str]) -> list[tuple[str, str]]:
    edges = _read_table(path)
    if not {"source", "target"} <= set(edges.columns):
        raise DataValidationError(f"edge list {path} needs columns 'source' and 'target'")
    known = set(feature_names)
    for row, (source, target) in enumerate(zip(edges["source"], edges["target"], strict=True)):
        for end in (source, target):
            if str(end) not in known:
                raise DataValidationError(
                    f"edge list {path} row {row} names {end!r}, which is not a feature column"
                )
    return [(str(s), str(t)) for s, t in zip(edges["source"], edges["target"], strict=True)]


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


def validate_dataset(dataset: Dataset, min_group_size: int) -> None:
    """Reject data that cannot be trained on, naming the column/row and the fix."""
    _check_duplicate_names(dataset.feature_names, "feature")
    finite = np.isfinite(dataset.features)
    if not finite.all():
        row, col = (int(v) for v in np.argwhere(~finite)[0])
        value = dataset.features[row, col]
        raise DataValidationError(
            f"feature {dataset.feature_names[col]!r} has a non-finite value ({value}) at row {row} "
            f"({int((~finite).sum())} such cells in all): impute or drop those rows before training"
        )
    if dataset.features.shape[0] < 2 * min_group_size:
        raise DataValidationError(
            f"only {dataset.features.shape[0]} rows: a train/test split needs at least {2 * min_group_size} "
            f"(2 x split.min_group_size={min_group_size}): add rows or lower split.min_group_size"
        )
    if dataset.labels is not None and len(np.unique(dataset.labels)) < 2:
        only = dataset.class_names[int(dataset.labels[0])] if dataset.class_names else dataset.labels[0]
        raise DataValidationError(
            f"the label has a single class ({only!r}): a classifier needs at least two; "
            "drop label_column to learn the structure only"
        )
    if dataset.groups is not None:
        names, counts = np.unique(dataset.groups, return_counts=True)
        small = [(str(n), int(c)) for n, c in zip(names, counts, strict=True) if c < min_group_size]
        if small:
            raise DataValidationError(
                f"group(s) {small} have fewer than split.min_group_size={min_group_size} rows, too few to "
                "split into train and test: merge them into another group or drop them"
            )


def _strata(dataset: Dataset) -> np.ndarray:
    n = dataset.features.shape[0]
    labels = dataset.labels.astype(str) if dataset.labels is not None else np.full(n, "")
    groups = dataset.groups.astype(str) if dataset.groups is not None else np.full(n, "")
    return np.char.add(np.char.add(labels, "|"), groups)


def _split_rows(dataset: Dataset, config: SplitConfig) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row indices, stratified by label and group."""
    from sklearn.model_selection import train_test_split

    validate_dataset(dataset, config.min_group_size)
    indices = np.arange(dataset.features.shape[0])
    strata = _strata(dataset)
    # A stratum with a single row cannot be split; fall back to stratifying by label only for those.
    _, inverse, stratum_counts = np.unique(strata, return_inverse=True, return_counts=True)
    rare = stratum_counts[inverse] < 2
    if rare.any():
        labels = dataset.labels.astype(str) if dataset.labels is not None else np.full(len(strata), "")
        strata = np.where(rare, np.char.add(labels, "|*"), strata)
        _, stratum_counts = np.unique(strata, return_counts=True)
    stratify = strata if stratum_counts.min() >= 2 else None
    train_idx, test_idx = train_test_split(
        indices, test_size=config.test_fraction, random_state=config.seed, stratify=stratify
    )
    return np.sort(train_idx), np.sort(test_idx)


def split_from_rows(
    dataset: Dataset,
    view: DataView,
    train_rows: np.ndarray,
    test_rows: np.ndarray,
    standardizer: Standardizer | None = None,
) -> DataSplit:
    """`view`'s split of `dataset` into the given rows, standardised with `standardizer` (default: fitted on
    the training rows). Deterministic: the same rows give the same split (how a stored split is loaded back).
    """
    if view != MAIN_VIEW:
        dataset = replace(dataset, name=f"{dataset.name}[{view}]")
    train, test = dataset.subset(train_rows), dataset.subset(test_rows)
    standardizer = standardizer or Standardizer.fit(train.features)
    return DataSplit(
        train=replace(train, features=standardizer.transform(train.features)),
        test=replace(test, features=standardizer.transform(test.features)),
        standardizer=standardizer,
        train_rows=np.asarray(train_rows, dtype=np.int64),
        test_rows=np.asarray(test_rows, dtype=np.int64),
    )


def split_dataset(dataset: Dataset, config: SplitConfig) -> DataSplit:
    """Split stratified by label and group, then standardise with statistics of the training part only."""
    return split_from_rows(dataset, MAIN_VIEW, *_split_rows(dataset, config))


def _group_rows(dataset: Dataset, group: str) -> np.ndarray:
    if dataset.groups is None or group not in set(dataset.groups):
        raise DataValidationError(f"group {group!r} is not in the data's group column")
    return dataset.groups == group


def group_split(dataset: Dataset, group: str, config: SplitConfig) -> DataSplit:
    """Train and test within one cohort (seed VI.3 `train_subset`)."""
    rows = np.flatnonzero(_group_rows(dataset, group))
    try:
        train_local, test_local = _split_rows(dataset.subset(rows), config)
    except DataValidationError as error:
        raise DataValidationError(f"cohort {group!r} (evaluation.subsets): {error}") from None
    return split_from_rows(dataset, DataView(kind="group", group=group), rows[train_local], rows[test_local])


def leave_one_group_out(dataset: Dataset, held_out: str) -> DataSplit:
    """Train on every cohort but `held_out`, test on all of `held_out`; standardise on the training
    cohorts."""
    mask = _group_rows(dataset, held_out)
    view = DataView(kind="logo", group=held_out)
    return split_from_rows(dataset, view, np.flatnonzero(~mask), np.flatnonzero(mask))


def make_splits(dataset: Dataset, config: SplitConfig, views: list[DataView]) -> DataSplits:
    """The main split plus one split per view, each made here once (seed VI.3's views: `cohort_views`)."""
    by_view = {MAIN_VIEW: split_dataset(dataset, config)}
    for view in views:
        if view.group is None:
            continue
        by_view[view] = (
            group_split(dataset, view.group, config)
            if view.kind == "group"
            else leave_one_group_out(dataset, view.group)
        )
    return DataSplits(dataset=dataset, by_view=by_view)


def check_subsets(dataset: Dataset, subsets: list[str]) -> None:
    """The cohorts named for subset training must exist in the data's group column."""
    present = set() if dataset.groups is None else set(dataset.groups)
    missing = [g for g in subsets if g not in present]
    if missing:
        raise DataValidationError(
            f"evaluation.subsets names group(s) {missing} that the data does not have (groups: {sorted(present)}); "
            "set evaluation.subsets to groups of the group column, or [] for data without groups"
        )
