"""Datasets and their splits as .npy arrays (allow_pickle=False) plus JSON descriptions.

A `DataSplits` artifact stores the dataset once and, per data view, only its train/test row indices and the
view's standardisation; loading applies them again (`split_from_rows`), which needs no randomness.
"""

from __future__ import annotations

import json
import os
from typing import Any, ClassVar

import numpy as np
from zenml.enums import ArtifactType, VisualizationType
from zenml.io import fileio
from zenml.materializers.base_materializer import BaseMaterializer

from model.data.splits import DataSplits, DataView, split_from_rows
from model.data.tables import Dataset, Standardizer


def _save_array(path: str, array: np.ndarray) -> None:
    with fileio.open(path, "wb") as handle:
        np.save(handle, array, allow_pickle=False)


def _load_array(path: str) -> np.ndarray:
    with fileio.open(path, "rb") as handle:
        return np.load(handle, allow_pickle=False)


def save_dataset(directory: str, dataset: Dataset) -> None:
    fileio.makedirs(directory)
    _save_array(os.path.join(directory, "features.npy"), dataset.features)
    if dataset.labels is not None:
        _save_array(os.path.join(directory, "labels.npy"), dataset.labels)
    if dataset.groups is not None:
        _save_array(os.path.join(directory, "groups.npy"), dataset.groups.astype(str))
    meta = {
        "feature_names": dataset.feature_names,
        "class_names": dataset.class_names,
        "true_edges": dataset.true_edges,
        "label_parents": dataset.label_parents,
        "label_children": dataset.label_children,
        "name": dataset.name,
        "has_labels": dataset.labels is not None,
        "has_groups": dataset.groups is not None,
    }
    with fileio.open(os.path.join(directory, "dataset.json"), "w") as handle:
        handle.write(json.dumps(meta, indent=2))


def load_dataset_dir(directory: str) -> Dataset:
    with fileio.open(os.path.join(directory, "dataset.json"), "r") as handle:
        meta = json.loads(handle.read())
    return Dataset(
        features=_load_array(os.path.join(directory, "features.npy")),
        feature_names=meta["feature_names"],
        labels=_load_array(os.path.join(directory, "labels.npy")) if meta["has_labels"] else None,
        class_names=meta["class_names"],
        groups=_load_array(os.path.join(directory, "groups.npy")) if meta["has_groups"] else None,
        true_edges=[tuple(e) for e in meta["true_edges"]] if meta["true_edges"] is not None else None,
        label_parents=meta["label_parents"],
        label_children=meta["label_children"],
        name=meta["name"],
    )


def _describe(dataset: Dataset) -> str:
    lines = [
        f"### {dataset.name}",
        f"- {dataset.features.shape[0]} rows x {dataset.n_features} features",
        f"- classes: {dataset.class_names or 'none (structure learning only)'}",
    ]
    if dataset.groups is not None:
        names, counts = np.unique(dataset.groups, return_counts=True)
        lines.append("- groups: " + ", ".join(f"{n} ({c})" for n, c in zip(names, counts, strict=True)))
    if dataset.true_edges is not None:
        lines.append(f"- ground-truth DAG: {len(dataset.true_edges)} edges")
    return "\n".join(lines) + "\n"


class DatasetMaterializer(BaseMaterializer):
    ASSOCIATED_TYPES: ClassVar[tuple[type[Any], ...]] = (Dataset,)
    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.DATA

    def load(self, data_type: type[Any]) -> Dataset:
        return load_dataset_dir(self.uri)

    def save(self, data: Dataset) -> None:
        save_dataset(self.uri, data)

    def save_visualizations(self, data: Dataset) -> dict[str, VisualizationType]:
        path = os.path.join(self.uri, "summary.md")
        with fileio.open(path, "w") as handle:
            handle.write(_describe(data))
        return {path: VisualizationType.MARKDOWN}


def _view_directory(uri: str, view: DataView) -> str:
    return os.path.join(uri, "views", str(view).replace(":", "-"))


class DataSplitsMaterializer(BaseMaterializer):
    ASSOCIATED_TYPES: ClassVar[tuple[type[Any], ...]] = (DataSplits,)
    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.DATA

    def load(self, data_type: type[Any]) -> DataSplits:
        dataset = load_dataset_dir(os.path.join(self.uri, "dataset"))
        with fileio.open(os.path.join(self.uri, "views.json"), "r") as handle:
            views = [DataView.parse(text) for text in json.loads(handle.read())]
        by_view = {}
        for view in views:
            directory = _view_directory(self.uri, view)
            standardizer = Standardizer(
                mean=_load_array(os.path.join(directory, "mean.npy")),
                std=_load_array(os.path.join(directory, "std.npy")),
            )
            by_view[view] = split_from_rows(
                dataset,
                view,
                _load_array(os.path.join(directory, "train_rows.npy")),
                _load_array(os.path.join(directory, "test_rows.npy")),
                standardizer,
            )
        return DataSplits(dataset=dataset, by_view=by_view)

    def save(self, data: DataSplits) -> None:
        save_dataset(os.path.join(self.uri, "dataset"), data.dataset)
        for view, split in data.by_view.items():
            directory = _view_directory(self.uri, view)
            fileio.makedirs(directory)
            _save_array(os.path.join(directory, "train_rows.npy"), split.train_rows)
            _save_array(os.path.join(directory, "test_rows.npy"), split.test_rows)
            _save_array(os.path.join(directory, "mean.npy"), split.standardizer.mean)
            _save_array(os.path.join(directory, "std.npy"), split.standardizer.std)
        with fileio.open(os.path.join(self.uri, "views.json"), "w") as handle:
            handle.write(json.dumps([str(view) for view in data.by_view]))

    def save_visualizations(self, data: DataSplits) -> dict[str, VisualizationType]:
        path = os.path.join(self.uri, "summary.md")
        parts = [
            f"## {view}: train {split.train.features.shape[0]} / test {split.test.features.shape[0]} rows\n"
            for view, split in data.by_view.items()
        ]
        with fileio.open(path, "w") as handle:
            handle.write(_describe(data.dataset) + "\n" + "\n".join(parts))
        return {path: VisualizationType.MARKDOWN}
