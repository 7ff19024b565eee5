"""Which rows a training learns from and is tested on: the typed data view, and the splits it names.

`DataView()` is the main stratified split; `DataView(kind="group", group=g)` trains and tests within cohort
`g` (seed VI.3 `train_subset`, docs/design.md#the-seed-document); `DataView(kind="logo", group=g)` trains on
every other cohort and tests on all of `g` (leave-one-group-out). `str(view)` (`main`, `group:lung`,
`logo:lung`) is only for people and MLflow tags; `DataView.parse` is its one inverse. `make_splits` makes
every view's `DataSplit` once, with the standardisation fitted on its training rows alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, model_validator

from model.config import SplitConfig
from model.data.tables import Dataset, Standardizer
from model.errors import DataValidationError

ViewKind = Literal["main", "group", "logo"]


class DataView(BaseModel):
    """A data view; hashable, so it keys the splits that load_data makes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ViewKind = "main"
    group: str | None = None

    @model_validator(mode="after")
    def _group_matches_kind(self) -> DataView:
        if (self.kind == "main") != (self.group is None):
            raise ValueError(
                f"data view kind {self.kind!r} with group {self.group!r}: 'main' takes no group, "
                "'group' and 'logo' name one"
            )
        return self

    def __str__(self) -> str:
        return self.kind if self.group is None else f"{self.kind}:{self.group}"

    @classmethod
    def parse(cls, text: str) -> DataView:
        """Inverse of `str(view)`: `main`, `group:<name>` or `logo:<name>`."""
        kind, _, group = text.partition(":")
        if kind not in ("main", "group", "logo") or (kind == "main") == bool(group):
            raise ValueError(f"unknown data view {text!r}: use 'main', 'group:<name>' or 'logo:<name>'")
        return cls(kind=kind, group=group or None)  # type: ignore[arg-type]


MAIN_VIEW = DataView()


def cohort_views(subsets: list[str]) -> list[DataView]:
    """The per-cohort views of `evaluation.subsets`: within each cohort, then leaving it out."""
    return [DataView(kind=kind, group=group) for group in subsets for kind in ("group", "logo")]


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


def check_splittable(dataset: Dataset, min_group_size: int) -> None:
    """What a stratified train/test split of `dataset` needs: enough rows, two classes, groups large enough."""
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

    check_splittable(dataset, config.min_group_size)
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
    n_test = math.ceil(config.test_fraction * len(indices))  # as train_test_split counts it
    if stratify is not None and min(n_test, len(indices) - n_test) < len(stratum_counts):
        needed = len(stratum_counts) / len(indices)
        fix = f"at least {needed:.3g}" if n_test < len(stratum_counts) else f"at most {1 - needed:.3g}"
        raise DataValidationError(
            f"split.test_fraction={config.test_fraction:g} leaves {n_test} test and {len(indices) - n_test} "
            f"training rows, fewer than the {len(stratum_counts)} label x cohort strata a stratified split needs "
            f"on each side: set split.test_fraction to {fix}"
        )
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
