"""The `Dataset` every loader returns: a numeric feature table with its optional label, cohorts and ground truth.

It lives apart from `model.data` (the loaders) so that the SCM generator in `model.scm` can build one without an
import cycle.
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
