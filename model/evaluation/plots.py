"""Figures of the seed's protocol (IV.1-4) as PNG bytes: matplotlib with the Agg backend, labelled axes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def attention_heatmap(matrix: np.ndarray, feature_names: list[str], kl: float) -> bytes:
    size = max(6.0, 0.32 * len(feature_names) + 2)
    figure, axis = plt.subplots(figsize=(size + 1, size))
    image = axis.imshow(matrix, cmap="viridis")
    axis.set_xticks(range(len(feature_names)), feature_names, rotation=90, fontsize=7)
    axis.set_yticks(range(len(feature_names)), feature_names, fontsize=7)
    axis.set_xlabel("Key (feature)")
    axis.set_ylabel("Query (feature)")
    axis.set_title(f"Causal attention heatmap (KL to causal prior = {kl:.3f})")
    figure.colorbar(image, ax=axis, label="attention weight")
    return _png(figure)


def latent_scatter(
    embedding: np.ndarray,
    labels: np.ndarray | None,
    groups: np.ndarray | None,
    method: str,
    silhouette: float,
) -> bytes:
    """Two panels: coloured by label and by group (cohort)."""
    figure, axes = plt.subplots(1, 2, figsize=(12, 5))
    for axis, values, title in ((axes[0], labels, "label"), (axes[1], groups, "group")):
        if values is None:
            axis.scatter(embedding[:, 0], embedding[:, 1], s=8, color="grey")
        else:
            for value in np.unique(values):
                mask = values == value
                axis.scatter(embedding[mask, 0], embedding[mask, 1], s=8, label=str(value), alpha=0.8)
            axis.legend(title=title, fontsize=8)
        axis.set_xlabel(f"{method} 1")
        axis.set_ylabel(f"{method} 2")
        axis.set_title(f"Latent causal space z ({method}), coloured by {title}")
    figure.suptitle(f"silhouette (by label, on z) = {silhouette:.3f}")
    return _png(figure)


def lattice_drawing(graph: nx.DiGraph, threshold: float, readable: set[str], label: str = "[label]") -> bytes:
    """The thresholded lattice in layers (topological generations, causes left), the label in red, the
    features the prediction may read in green, the label's descendants in grey."""
    figure, axis = plt.subplots(figsize=(11, 8))
    layered = graph.copy()
    if nx.is_directed_acyclic_graph(graph):
        for depth, generation in enumerate(nx.topological_generations(graph)):
            for node in generation:
                layered.nodes[node]["layer"] = depth
        position = nx.multipartite_layout(layered, subset_key="layer")
    else:
        position = nx.spring_layout(graph, seed=0, k=1.5 / max(graph.number_of_nodes(), 1) ** 0.5)
    colours = [
        "tab:red" if n == label else "tab:green" if n in readable else "lightgrey" for n in graph.nodes
    ]
    weights = [graph.edges[e]["weight"] for e in graph.edges]
    nx.draw_networkx_nodes(graph, position, node_color=colours, node_size=300, ax=axis)
    nx.draw_networkx_labels(graph, position, font_size=7, ax=axis)
    nx.draw_networkx_edges(
        graph,
        position,
        edge_color="grey",
        width=[0.5 + 2 * w for w in weights],
        arrows=True,
        ax=axis,
        arrowsize=10,
    )
    axis.set_title(
        f"Learned causal lattice (edge probability >= {threshold}); green: read by the prediction, "
        "grey: downstream of the label"
    )
    axis.axis("off")
    return _png(figure)


def degree_distribution(graph: nx.DiGraph) -> bytes:
    figure, axis = plt.subplots(figsize=(7, 4.5))
    in_degree = [d for _, d in graph.in_degree()]
    out_degree = [d for _, d in graph.out_degree()]
    top = max([*in_degree, *out_degree, 1])
    bins = [edge - 0.5 for edge in range(top + 2)]
    axis.hist([in_degree, out_degree], bins=bins, label=["in-degree", "out-degree"])
    axis.set_xlabel("degree")
    axis.set_ylabel("number of variables")
    axis.set_title("Lattice degree distribution")
    axis.legend()
    return _png(figure)


def utility_map(utility_per_epoch: np.ndarray, final_utility: np.ndarray) -> bytes:
    """Top: mean utility per block over training epochs; bottom: final (test-set) utility per block."""
    figure, axes = plt.subplots(2, 1, figsize=(8, 5.5), gridspec_kw={"height_ratios": [3, 1]})
    image = axes[0].imshow(utility_per_epoch.T, aspect="auto", cmap="plasma", vmin=0, vmax=1)
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("block index")
    axes[0].set_title("Utility activation over training")
    epochs = range(0, utility_per_epoch.shape[0], max(1, utility_per_epoch.shape[0] // 10))
    axes[0].set_xticks(list(epochs), [str(e + 1) for e in epochs])
    axes[0].set_yticks(range(utility_per_epoch.shape[1]))
    figure.colorbar(image, ax=axes[0], label="mean utility")
    axes[1].imshow(final_utility.reshape(1, -1), aspect="auto", cmap="plasma", vmin=0, vmax=1)
    for b, value in enumerate(final_utility):
        axes[1].text(
            b, 0, f"{value:.2f}", ha="center", va="center", color="white" if value < 0.6 else "black"
        )
    axes[1].set_xlabel("Block index")
    axes[1].set_xticks(range(len(final_utility)))
    axes[1].set_yticks([])
    axes[1].set_title("Utility activation map (test set)")
    return _png(figure)


def bar_chart(values: dict[str, float], ylabel: str, title: str, reference: float | None = None) -> bytes:
    figure, axis = plt.subplots(figsize=(7, 4))
    axis.bar(list(values), list(values.values()), color="steelblue")
    if reference is not None:
        axis.axhline(reference, color="red", linestyle="--", label=f"reference {reference:.3f}")
        axis.legend()
    for index, value in enumerate(values.values()):
        axis.text(index, value, f"{value:.3f}", ha="center", va="bottom", fontsize=8)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.tick_params(axis="x", rotation=30)
    return _png(figure)


def skipped_figure(title: str, reason: str) -> bytes:
    """A figure that could not be drawn, in its place: its title and why, so the report shows the reason."""
    figure, axis = plt.subplots(figsize=(8, 2.5))
    axis.axis("off")
    axis.text(0.5, 0.6, title, ha="center", va="center", fontsize=13, weight="bold")
    axis.text(0.5, 0.3, f"skipped: {reason}", ha="center", va="center", fontsize=10, wrap=True)
    return _png(figure)
