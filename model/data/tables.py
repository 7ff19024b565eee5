"""The data the model learns from: the `Dataset` (features, label, cohorts, and the true graph where one is
known), and train-only standardisation (the part the served model needs too).

Users' files are read by `model.data.files` and turned into a `Dataset` by `model.data.sources`;
`model.data.validation` rejects bad input with a `DataValidationError` that names the column or row and the fix,
before any training.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import networkx as nx
import numpy as np


@dataclass(frozen=True)
class Dataset:
    """A numeric feature table with optional label, group and ground-truth DAG over the features."""

    features: np.ndarray  # (n, F) float32
    feature_names: list[str]
    labels: np.ndarray | None = None  # (n,) int64 class indices
    class_names: list[str] = field(default_factory=list)
    groups: np.ndarray | None = None  # (n,) str
    true_edges: list[tuple[str, str]] | None = None
    # Ground truth about the label where it is known (synthetic data): the features that cause it and the
    # features it causes.
    label_parents: list[str] | None = None
    label_children: list[str] | None = None
    name: str = "dataset"

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def subset(self, mask: np.ndarray) -> Dataset:
        return replace(
            self,
            features=self.features[mask],
            labels=None if self.labels is None else self.labels[mask],
            groups=None if self.groups is None else self.groups[mask],
        )

    def true_graph(self) -> nx.DiGraph | None:
        if self.true_edges is None:
            return None
        graph = nx.DiGraph()
        graph.add_nodes_from(self.feature_names)
        graph.add_edges_from(self.true_edges)
        return graph

    def fingerprint(self) -> str:
        """A content hash of the data, for lineage tags."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.features).tobytes())
        digest.update("\x1f".join(self.feature_names).encode())
        if self.labels is not None:
            digest.update(self.labels.tobytes())
        if self.groups is not None:
            digest.update("\x1f".join(map(str, self.groups)).encode())
        return digest.hexdigest()[:16]


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
