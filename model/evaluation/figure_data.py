"""The data behind the report's interactive figures, written by the protocol steps into their outcomes' files
and read back by the report: the report runs in its own pod on Kubeflow, so it sees only these artifacts.

- `latent/z_points.csv`: per test row its t-SNE and PCA coordinates, label and cohort (Exp-2).
- `lattice/edge_truth.csv`: every learned edge and every true edge (the label node `[label]` included), with
  the learned edge probability and its status: `true` (learned and true), `false` (learned, not true),
  `missing` (true, not learned) or `learned` (no truth known).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

LATENT_POINTS = "latent/z_points.csv"
EDGE_TRUTH = "lattice/edge_truth.csv"
EDGE_STATUSES = ("true", "false", "missing", "learned")


def latent_points(
    z_tsne: np.ndarray, z_pca: np.ndarray, labels: np.ndarray | None, groups: np.ndarray | None
) -> bytes:
    frame = pd.DataFrame(
        {"tsne_1": z_tsne[:, 0], "tsne_2": z_tsne[:, 1], "pca_1": z_pca[:, 0], "pca_2": z_pca[:, 1]}
    )
    if labels is not None:
        frame["label"] = [str(value) for value in labels]
    if groups is not None:
        frame["cohort"] = [str(value) for value in groups]
    return frame.to_csv(index=False).encode()


def edge_truth(
    learned: nx.DiGraph,
    probability: Callable[[str, str], float],
    true_edges: list[tuple[str, str]] | None,
) -> bytes:
    """`learned`: the thresholded lattice; `probability`: the learned probability of any edge (for the true
    edges below the threshold); `true_edges`: None when the truth is unknown."""
    truth = None if true_edges is None else set(true_edges)
    rows = []
    for source, target, data in learned.edges(data=True):
        status = "learned" if truth is None else "true" if (source, target) in truth else "false"
        rows.append((source, target, float(data["weight"]), status))
    for source, target in sorted(truth - set(learned.edges)) if truth is not None else []:
        rows.append((source, target, probability(source, target), "missing"))
    frame = pd.DataFrame(rows, columns=["source", "target", "weight", "status"])
    return frame.to_csv(index=False).encode()


def read_csv(files: Mapping[str, bytes], path: str, **options: object) -> pd.DataFrame | None:
    """A CSV file of an outcome, None when the outcome does not carry it."""
    if path not in files:
        return None
    return pd.read_csv(io.BytesIO(files[path]), **options)


@dataclass(frozen=True)
class Layout:
    """Node positions of the layered drawing: x is the topological generation, y spreads a generation."""

    x: dict[str, float]
    y: dict[str, float]


def layered_layout(nodes: list[str], edges: list[tuple[str, str]]) -> Layout:
    """Causes left, effects right: each node's layer is its topological generation; on a graph with cycles,
    that of its strongly connected component in the condensation, so every graph gets a layered drawing."""
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    condensed = nx.condensation(graph)
    layer: dict[str, int] = {}
    for depth, generation in enumerate(nx.topological_generations(condensed)):
        for component in generation:
            for node in condensed.nodes[component]["members"]:
                layer[node] = depth
    x, y = {}, {}
    for depth in sorted(set(layer.values())):
        members = sorted(node for node in layer if layer[node] == depth)
        for index, node in enumerate(members):
            x[node] = float(depth)
            y[node] = (len(members) - 1) / 2 - index
    return Layout(x=x, y=y)
