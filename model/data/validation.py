"""Checks of the data that run before any training: names, values, the label, the edge list, the cohorts the
protocol names and every data view the configuration will train. Each failure is a `DataValidationError`
whose one line names the column, row, cohort or setting and the fix."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from model.data.splits import DataSplits, check_splittable
from model.data.tables import Dataset
from model.errors import DataValidationError

# Beyond this magnitude float32 means and variances overflow (x^2 near 3e38); values must be rescaled.
MAX_ABS_VALUE = 1e12
# A class needs rows on both sides of a stratified split, and two to learn from.
MIN_ROWS_PER_CLASS = 3
# A cohort name becomes part of step names (`subset_<cohort>`) and file names (`subsets/drift_<cohort>.html`).
COHORT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_CONTROL = ("Cc", "Cf", "Zl", "Zp")


def check_duplicate_names(names: list[str], what: str) -> None:
    seen: set[str] = set()
    duplicates = sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]
    if duplicates:
        raise DataValidationError(
            f"duplicate {what} name(s) {duplicates[:10]}: rename the columns so every feature name is unique"
        )


def check_names(names: list[str], what: str) -> None:
    """Names are printed, logged and written into files: no control characters, no empty names."""
    for index, name in enumerate(names):
        bad = [c for c in name if unicodedata.category(c) in _CONTROL]
        if bad:
            raise DataValidationError(
                f"{what} {index} name {name!r} holds the control character {bad[0]!r}: rename it"
            )
        if not name.strip():
            raise DataValidationError(f"{what} {index} has an empty name: name it")


def check_label_values(series: pd.Series, column: str) -> tuple[np.ndarray, list[str]]:
    """Class indices and names of a label column; empty cells and continuous values are refused."""
    if series.isna().any():
        row = int(np.flatnonzero(series.isna().to_numpy())[0])
        raise DataValidationError(
            f"label column {column!r} is empty at row {row}: fill or drop unlabeled rows"
        )
    if series.dtype.kind == "f":
        values = series.to_numpy(dtype=np.float64)
        fractional = np.flatnonzero(values != np.round(values))
        if len(fractional):
            row = int(fractional[0])
            raise DataValidationError(
                f"label column {column!r} holds non-integer numbers ({values[row]!r} at row {row}; "
                f"{len(np.unique(values))} distinct values): this model classifies, so bin the values into "
                "classes or choose another label_column"
            )
    try:
        codes, uniques = pd.factorize(series, sort=True)
    except TypeError:  # mixed types (numbers and text) do not sort: compare them as text
        codes, uniques = pd.factorize(series.astype(str), sort=True)
    names = [str(u) for u in uniques]
    check_duplicate_names(names, f"label {column!r} class (as text)")
    check_names(names, f"label {column!r} class")
    return codes.astype(np.int64), names


def check_edges(edges: pd.DataFrame, feature_names: list[str], path: Path) -> list[tuple[str, str]]:
    """A ground-truth edge list must name features, hold edges, and be a DAG without self loops or repeats."""
    if not {"source", "target"} <= set(edges.columns):
        raise DataValidationError(
            f"edge list {path} needs columns 'source' and 'target' (it has {list(edges.columns)[:10]})"
        )
    known = set(feature_names)
    pairs: dict[tuple[str, str], int] = {}
    for row, (source, target) in enumerate(zip(edges["source"], edges["target"], strict=True)):
        for end in (source, target):
            if pd.isna(end):
                raise DataValidationError(f"edge list {path} row {row} has an empty source or target")
            if str(end) not in known:
                raise DataValidationError(
                    f"edge list {path} row {row} names {str(end)[:60]!r}, which is not a feature column"
                )
        edge = (str(source), str(target))
        if edge[0] == edge[1]:
            raise DataValidationError(
                f"edge list {path} row {row} is a self loop {edge[0]!r} -> {edge[0]!r}: a DAG has none; delete it"
            )
        if edge in pairs:
            raise DataValidationError(
                f"edge list {path} row {row} repeats the edge {edge[0]!r} -> {edge[1]!r} of row {pairs[edge]}: "
                "delete the repeat"
            )
        pairs[edge] = row
    graph = nx.DiGraph(list(pairs))
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return list(pairs)
    shown = " -> ".join([str(cycle[0][0]), *(str(edge[1]) for edge in cycle)])
    raise DataValidationError(
        f"edge list {path} has a cycle ({shown}): a causal ground truth must be a DAG; delete one of its edges"
    )


def validate_dataset(dataset: Dataset, min_group_size: int) -> None:
    """Reject data that cannot be trained on, naming the column/row and the fix."""
    check_duplicate_names(dataset.feature_names, "feature")
    check_names(dataset.feature_names, "feature")
    features = dataset.features
    finite = np.isfinite(features)
    if not finite.all():
        row, col = (int(v) for v in np.argwhere(~finite)[0])
        raise DataValidationError(
            f"feature {dataset.feature_names[col]!r} has a non-finite value ({features[row, col]}) at row {row} "
            f"({int((~finite).sum())} such cells in all): impute or drop those rows before training"
        )
    huge = np.abs(features) > MAX_ABS_VALUE
    if huge.any():
        row, col = (int(v) for v in np.argwhere(huge)[0])
        raise DataValidationError(
            f"feature {dataset.feature_names[col]!r} has the value {features[row, col]:.3g} at row {row}, beyond "
            f"+-{MAX_ABS_VALUE:.0e}: rescale the column (for example log1p)"
        )
    check_splittable(dataset, min_group_size)
    constant: np.ndarray = np.flatnonzero(features.max(axis=0) == features.min(axis=0))
    if len(constant):
        names = [dataset.feature_names[i] for i in constant]
        scope = (
            "every feature is" if len(constant) == dataset.n_features else f"{len(constant)} feature(s) are"
        )
        raise DataValidationError(
            f"{scope} constant, carrying no information ({names[:10]}): leave them out of data.feature_columns"
        )
    if dataset.labels is not None:
        counts = np.bincount(dataset.labels, minlength=dataset.n_classes)
        if counts.min() < MIN_ROWS_PER_CLASS:
            rare = int(np.argmin(counts))
            raise DataValidationError(
                f"the label has {dataset.n_classes} classes on {len(dataset.labels)} rows and class "
                f"{dataset.class_names[rare]!r} has {int(counts[rare])} row(s): every class needs at least "
                f"{MIN_ROWS_PER_CLASS} (two to train on, one to test); merge rare classes, or is label_column "
                "an identifier or a continuous value?"
            )


def check_subsets(dataset: Dataset, subsets: list[str]) -> None:
    """The cohorts named for subset training must exist in the data's group column."""
    present = set() if dataset.groups is None else set(dataset.groups)
    missing = [g for g in subsets if g not in present]
    if missing:
        raise DataValidationError(
            f"evaluation.subsets names group(s) {missing} that the data does not have (groups: {sorted(present)[:20]}); "
            "set evaluation.subsets to groups of the group column, or [] for data without groups"
        )
    repeated = sorted({g for g in subsets if subsets.count(g) > 1})
    if repeated:
        raise DataValidationError(f"evaluation.subsets repeats {repeated}: name each cohort once")
    for group in subsets:
        if not COHORT_NAME.fullmatch(group):
            raise DataValidationError(
                f"cohort {group!r} of evaluation.subsets cannot name a step or a file: use cohort names of "
                "letters, digits, '_', '.' and '-' (up to 64) in the group column"
            )


def classes_present(dataset: Dataset) -> set[int]:
    return set() if dataset.labels is None else {int(c) for c in np.unique(dataset.labels)}


def _class_counts(dataset: Dataset, *rows: np.ndarray) -> dict[str, int]:
    assert dataset.labels is not None
    codes = dataset.labels[np.concatenate(rows)]
    return {name: int((codes == code).sum()) for code, name in enumerate(dataset.class_names)}


def check_views(dataset: Dataset, splits: DataSplits) -> None:
    """Every view's split gives its training and its test part two classes, and its training part every class
    its test part holds."""
    if dataset.labels is None:
        return
    for view, split in splits.by_view.items():
        train, test = classes_present(split.train), classes_present(split.test)
        where = "the main split" if view.group is None else f"view {view} (evaluation.subsets)"
        fix = (
            f"remove {view.group!r} from evaluation.subsets"
            if view.group is not None
            else "add rows of the rare classes or merge them"
        )
        if len(train) < 2:
            only = dataset.class_names[next(iter(train))] if train else "none"
            raise DataValidationError(
                f"{where}: the training rows hold a single class ({only!r}), a classifier needs two: {fix}"
            )
        if len(test) < 2:  # accuracy, AUROC and F1 on the test rows need both classes there
            only = dataset.class_names[next(iter(test))]
            counts = _class_counts(dataset, split.train_rows, split.test_rows)
            raise DataValidationError(
                f"{where}: the test rows hold a single class ({only!r}; class counts of its rows: {counts}), "
                f"and a class needs at least 2 rows to be on both sides of the split: {fix}"
            )
        unseen = sorted(dataset.class_names[c] for c in test - train)
        if unseen:
            raise DataValidationError(
                f"{where}: test rows hold class(es) {unseen[:5]} that no training row has: {fix}"
            )
