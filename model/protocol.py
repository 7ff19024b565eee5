"""The seed's verification protocol (V-VI) as plain functions: Exp-1..5 and the cohort subsets (VI.3).

Each returns a `ProtocolOutcome`: measured numbers plus the files of SPEC §4 (relative path -> bytes). The
bytes travel inside the ZenML artifact, so a later step (the report) has them wherever it runs. This module
holds Exp-1..4 on the main model; `model/protocol_trainings.py` the parts over several trainings (Exp-5, VI.3).

Words: an "experiment" in this project is one of the seed's Exp-1..5 (this module, `expN_*`); the run's
configuration is `ExperimentConfig` (the `parameters.experiment` block of zenml_config.yaml, named after the
seed's config file), and MLflow's experiment is `registry.MLFLOW_EXPERIMENT`.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import torch
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import silhouette_score

from model import figure_data, plots
from model.attention import attention_kl_floor
from model.data import Dataset
from model.metrics import (
    forward_flops,
    isolated_node_share,
    kl_causal,
    lattice_degree_variance,
    lattice_sparsity,
    structure_recovery,
)
from model.trainer import EpochRecord, evaluate_model
from model.transformer import CausalLatticeTransformer


@dataclass
class ProtocolOutcome:
    """Measured numbers of one protocol step and its files (relative path under results/<run>/ -> bytes)."""

    metrics: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)


def json_bytes(data: Any) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True).encode()


def _features(data: Dataset) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(data.features, dtype=np.float32))


def exp1_attention(model: CausalLatticeTransformer, data: Dataset) -> ProtocolOutcome:
    """Exp-1: attention over features (averaged over blocks, heads and rows of `data`) and `kl_causal`, the
    mean over query rows, heads, blocks and samples of KL(attention_i ‖ P_i). The KL of the averaged matrix
    (never larger, by convexity) is reported beside it, named as such, and so is the floor that the lattice
    mask sets under kl_causal (`attention_kl_floor`) with what lies above it: how far attention moved from the
    prior where it may attend."""
    x = _features(data)
    matrix = model.get_attention_matrix(x).numpy()
    prior = model.causal_prior().detach().numpy()
    kl = kl_causal(model, x)
    floor = float(attention_kl_floor(model.prior, model.bias))
    averaged_rows = (
        matrix * (np.log(np.clip(matrix, 1e-12, None)) - np.log(np.clip(prior, 1e-12, None)))
    ).sum(axis=1)
    diagonal_share = float(np.trace(matrix) / matrix.shape[0])
    frame = pd.DataFrame(matrix, index=model.feature_names, columns=model.feature_names)
    return ProtocolOutcome(
        metrics={
            "kl_causal": kl,
            # The part of kl_causal that the lattice mask fixes (no attention can go below it), and the rest.
            "kl_causal_mask_floor": floor,
            "kl_causal_above_floor": kl - floor,
            "kl_of_averaged_attention": float(averaged_rows.mean()),
            "attention_diagonal_mean": diagonal_share,
            "n_features": int(matrix.shape[0]),
        },
        files={
            "visuals/attention/heatmap.png": plots.attention_heatmap(matrix, model.feature_names, kl),
            "visuals/attention/attention_weight.csv": frame.to_csv(index_label="query").encode(),
        },
    )


def tsne_problem(z: np.ndarray) -> str | None:
    """Why t-SNE cannot run on `z`, None when it can. scikit-learn's Barnes-Hut t-SNE ends the process with a
    segmentation fault when every row is the same point (its PCA initialisation divides by a zero spread; all
    features constant give exactly that) or when z is not finite."""
    if not np.isfinite(z).all():
        return f"z has {int((~np.isfinite(z)).sum())} non-finite values"
    if len(z) < 4:
        return f"t-SNE needs at least 4 samples, the test split has {len(z)}"
    if not np.ptp(z, axis=0).any():
        return (
            f"all {len(z)} samples have the same z (constant features give the model nothing to tell apart)"
        )
    return None


def exp2_latent(
    model: CausalLatticeTransformer, data: Dataset, perplexity: float, seed: int
) -> ProtocolOutcome:
    """Exp-2: t-SNE and PCA of z, silhouette of z by label. Where t-SNE cannot run (`tsne_problem`) its figure
    says why instead and `z_stat.json` records the reason."""
    z = model.causal_encoder(_features(data)).numpy().astype(np.float64)
    problem = tsne_problem(z)
    labels = None
    if data.labels is not None:
        labels = np.array([data.class_names[k] for k in data.labels]) if data.class_names else data.labels
    silhouette = (
        float(silhouette_score(z, data.labels))
        if data.labels is not None and len(np.unique(data.labels)) > 1 and np.isfinite(z).all()
        else float("nan")
    )
    pca = PCA(n_components=2, random_state=seed)
    if problem is None:
        tsne = TSNE(
            n_components=2, perplexity=min(perplexity, (len(z) - 1) / 3), random_state=seed, init="pca"
        )
        z_tsne = tsne.fit_transform(z)
        tsne_png = plots.latent_scatter(z_tsne, labels, data.groups, "t-SNE", silhouette)
    else:
        z_tsne = np.full((len(z), 2), np.nan)
        tsne_png = plots.skipped_figure("Latent causal space z (t-SNE)", problem)
    z_pca = pca.fit_transform(z) if problem is None else np.zeros((len(z), 2))
    stats = {
        "silhouette": silhouette,
        "n_samples": int(z.shape[0]),
        "latent_dim": int(z.shape[1]),
        "pca_explained_variance_ratio": [float(v) for v in pca.explained_variance_ratio_]
        if problem is None
        else None,
        "z_mean_norm": float(np.linalg.norm(z, axis=1).mean()),
        "tsne_skipped": problem,
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, z=z, z_tsne=z_tsne, z_pca=z_pca)
    return ProtocolOutcome(
        metrics={"silhouette": silhouette, "tsne_skipped": problem},
        files={
            "latent/z_tsne.png": tsne_png,
            "latent/z_pca.png": plots.latent_scatter(z_pca, labels, data.groups, "PCA", silhouette),
            "latent/z_stat.json": json_bytes(stats),
            "latent/z_stat.npz": buffer.getvalue(),
            figure_data.LATENT_POINTS: figure_data.latent_points(z_tsne, z_pca, labels, data.groups),
        },
    )


LABEL_NODE = "[label]"


def _names(graph: nx.DiGraph, nodes: Any) -> list[str]:
    return sorted(str(node) for node in nodes)


def exp3_lattice(model: CausalLatticeTransformer, data: Dataset) -> tuple[ProtocolOutcome, nx.DiGraph]:
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
            label_parents=_names(with_label, with_label.predecessors(LABEL_NODE)),
            label_children=_names(with_label, with_label.successors(LABEL_NODE)),
        )
        if data.label_parents is not None and data.label_children is not None:
            learned_parents = set(metrics["label_parents"])
            metrics.update(
                label_parent_recall=len(learned_parents & set(data.label_parents))
                / max(len(data.label_parents), 1),
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


def _timed_forward(model: CausalLatticeTransformer, x: torch.Tensor, dense: bool, repeats: int = 5) -> float:
    with torch.no_grad():
        model(x, dense=dense)  # warm-up
        started = time.perf_counter()
        for _ in range(repeats):
            model(x, dense=dense)
    return (time.perf_counter() - started) / repeats


def exp4_utility(
    model: CausalLatticeTransformer, data: Dataset, history: list[EpochRecord]
) -> ProtocolOutcome:
    """Exp-4: utility per block over training, FLOPs and accuracy of gated vs dense inference."""
    x = _features(data)
    model.meta_utility_layer.reset_utility()
    gated = evaluate_model(model, data, dense=False)
    final_utility = model.meta_utility_layer.get_utility().numpy()
    dense = evaluate_model(model, data, dense=True)
    dense_flops, gated_flops = forward_flops(model, x, dense=True), forward_flops(model, x, dense=False)
    dense_s, gated_s = _timed_forward(model, x, True), _timed_forward(model, x, False)
    per_epoch = np.array([record.utility_per_block for record in history])
    metrics = {
        "dense_flops": dense_flops,
        "gated_flops": gated_flops,
        "flops_reduction": 1.0 - gated_flops / dense_flops,
        "dense_accuracy": dense.get("accuracy", float("nan")),
        "gated_accuracy": gated.get("accuracy", float("nan")),
        "dense_forward_s": dense_s,
        "gated_forward_s": gated_s,
        "wall_clock_speedup": dense_s / gated_s,
        "utility_entropy": gated["utility_entropy"],
        "utility_entropy_first_epoch": history[0].utility_entropy if history else float("nan"),
        "utility_per_block": [float(u) for u in final_utility],
    }
    log = pd.DataFrame(
        [
            {
                "mode": "dense",
                "flops": dense_flops,
                "accuracy": metrics["dense_accuracy"],
                "forward_s": dense_s,
                "n_samples": x.shape[0],
            },
            {
                "mode": "gated",
                "flops": gated_flops,
                "accuracy": metrics["gated_accuracy"],
                "forward_s": gated_s,
                "n_samples": x.shape[0],
            },
        ]
    )
    return ProtocolOutcome(
        metrics=metrics,
        files={
            "utility/utility_map.png": plots.utility_map(per_epoch, final_utility),
            "utility/flops_log.csv": log.to_csv(index=False).encode(),
            "utility/utility_per_epoch.csv": pd.DataFrame(
                per_epoch,
                columns=[f"block_{b}" for b in range(per_epoch.shape[1])],
                index=pd.RangeIndex(1, len(per_epoch) + 1, name="epoch"),
            )
            .to_csv()
            .encode(),
        },
    )
