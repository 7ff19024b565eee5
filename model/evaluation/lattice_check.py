"""Exp-3 of the seed's protocol: the learned lattice as a graph (degree statistics, recovery against a known DAG, the drawing)."""

from __future__ import annotations

from typing import Any

import networkx as nx
import pandas as pd

from model.artifacts import ProtocolOutcome, json_bytes
from model.data.tables import Dataset
from model.evaluation import figure_data, plots
from model.evaluation.graph_metrics import (
    isolated_node_share,
    lattice_degree_variance,
    lattice_sparsity,
    structure_recovery,
)
from model.nn.transformer import CausalLatticeTransformer

LABEL_NODE = "[label]"


def _names(nodes: Any) -> list[str]:
    return sorted(str(node) for node in nodes)


def learned_label_parents(model: CausalLatticeTransformer) -> list[str] | None:
    """The label's parents in the model's thresholded lattice, sorted; None when the label is not a node."""
    with_label = model.lattice_encoder.get_graph(label_name=LABEL_NODE)
    return _names(with_label.predecessors(LABEL_NODE)) if LABEL_NODE in with_label else None


def label_parent_recall(learned: list[str], true: list[str]) -> float:
    """The share of the label's true parents among the learned ones (0 when there are none)."""
    return len(set(learned) & set(true)) / max(len(true), 1)


def check_lattice(model: CausalLatticeTransformer, data: Dataset) -> tuple[ProtocolOutcome, nx.DiGraph]:
    """Exp-3: the thresholded lattice, its degree statistics, recovery against the true DAG, the label's place
    in it (parents, children, the features the prediction may read) and how the structure phase ended."""
    encoder = model.lattice_encoder
    graph = encoder.get_graph()
    with_label = encoder.get_graph(label_name=LABEL_NODE)
    readable = model.readable_features()
    metrics: dict[str, Any] = {
        "degree_variance": lattice_degree_variance(graph),
        "sparsity": lattice_sparsity(graph),
        "isolated_node_share": isolated_node_share(graph),
        "n_edges": graph.number_of_edges(),
        "is_dag": nx.is_directed_acyclic_graph(with_label),
        "threshold": encoder.threshold,
        "readable_features": readable,
        "n_readable": len(readable),
        "nodes": [str(node) for node in with_label.nodes],
    }
    if LABEL_NODE in with_label:
        metrics.update(
            label_parents=_names(with_label.predecessors(LABEL_NODE)),
            label_children=_names(with_label.successors(LABEL_NODE)),
        )
        if data.label_parents is not None and data.label_children is not None:
            metrics.update(
                label_parent_recall=label_parent_recall(metrics["label_parents"], data.label_parents),
                # Downstream features the prediction may still read: each one is a leak of anti-causal signal.
                readable_true_label_children=sorted(set(readable) & set(data.label_children)),
            )
    true_graph = data.true_graph()
    if true_graph is not None:
        recovery = structure_recovery(
            encoder.adjacency().detach().numpy(), encoder.feature_names, true_graph, encoder.threshold
        )
        metrics.update(
            shd=recovery.shd,
            edge_precision=recovery.precision,
            edge_recall=recovery.recall,
            edge_auroc=recovery.edge_auroc,
        )
    edges = pd.DataFrame(
        [(s, t, d["weight"]) for s, t, d in with_label.edges(data=True)],
        columns=["source", "target", "weight"],
    )
    probability = encoder.sem.adjacency().detach().numpy()
    index = {name: i for i, name in enumerate(with_label.nodes)}  # the features, then the label node
    true_edges = data.true_edges
    if true_edges is not None and LABEL_NODE in with_label and data.label_parents is not None:
        true_edges = [*true_edges, *((p, LABEL_NODE) for p in data.label_parents)]
        true_edges += [(LABEL_NODE, c) for c in data.label_children or []]
    outcome = ProtocolOutcome(
        metrics=metrics,
        files={
            figure_data.EDGE_TRUTH: figure_data.edge_truth(
                with_label, lambda s, t: float(probability[index[s], index[t]]), true_edges
            ),
            "lattice/lattice_graph.png": plots.lattice_drawing(with_label, encoder.threshold, set(readable)),
            "lattice/degree_dist.png": plots.degree_distribution(graph),
            "lattice/edges.csv": edges.to_csv(index=False).encode(),
            "lattice/lattice_stats.json": json_bytes(metrics),
        },
    )
    return outcome, graph
