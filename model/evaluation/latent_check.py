"""Exp-2 of the seed's protocol: the latent z (t-SNE and PCA pictures, silhouette by label, per-dimension statistics)."""

from __future__ import annotations

import io

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import silhouette_score

from model.artifacts import ProtocolOutcome, json_bytes
from model.data.batching import feature_tensor
from model.data.tables import Dataset
from model.evaluation import figure_data, plots
from model.nn.transformer import CausalLatticeTransformer


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


def label_silhouette(points: np.ndarray, labels: np.ndarray | None) -> float:
    """Exp-2's score: the silhouette of `points` grouped by label (Euclidean); NaN where it is undefined (no
    label, one class, a non-finite point).

    Args:
        points (np.ndarray): one representation per row, shape (n,) or (n, d).
        labels (np.ndarray | None): the rows' labels, shape (n,).

    Returns:
        float: the mean silhouette, in [-1, 1], or NaN.
    """
    points = points.reshape(len(points), -1).astype(np.float64)
    if labels is None or len(np.unique(labels)) < 2 or not np.isfinite(points).all():
        return float("nan")
    return float(silhouette_score(points, labels))


def check_latent(
    model: CausalLatticeTransformer, data: Dataset, perplexity: float, seed: int
) -> ProtocolOutcome:
    """Exp-2: t-SNE and PCA of z, silhouette of z by label. Where t-SNE cannot run (`tsne_problem`) its figure
    says why instead and `z_stat.json` records the reason."""
    z = model.causal_encoder(feature_tensor(data)).numpy().astype(np.float64)
    problem = tsne_problem(z)
    labels = None
    if data.labels is not None:
        labels = np.array([data.class_names[k] for k in data.labels]) if data.class_names else data.labels
    silhouette = label_silhouette(z, data.labels)
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
