"""Synthetic pan-cancer structural causal models (docs/design.md §3): the embedded default data and the
benchmark suite.

Genes sit on a random DAG; each gene's mechanism is a sum of (non)linear functions of its standardised parents,
rescaled to a fixed signal-to-noise ratio. Cohorts are environments: root genes' means shift between cohorts and
a few mechanisms change strength. A label is caused by a few genes with one mechanism in every cohort: linear in
the causes plus (by default) a term a linear reader cannot represent. Downstream biomarkers are caused by the label with a cohort-specific strength whose sign flips in `flip_group`, so a model
that reads them is right in the training cohorts and wrong there, while a model that reads the label's causes
is right everywhere. The true DAG, the label's parents and its children travel with the data.
"""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx
import numpy as np

from model.config import SyntheticDataConfig
from model.data.tables import Dataset

# Edge functions of the nonlinear mechanisms; each takes a standardised parent.
_EDGE_FUNCTIONS: tuple[Callable[[np.ndarray], np.ndarray], ...] = (
    lambda z: np.tanh(1.5 * z),
    lambda z: np.sin(1.5 * z),
    lambda z: z * z - 1.0,
    lambda z: np.where(z > 0, z, 0.2 * z),
)


def _random_dag(config: SyntheticDataConfig, rng: np.random.Generator) -> np.ndarray:
    """Boolean (G, G) adjacency whose edges go from lower to higher index (acyclic by construction)."""
    n = config.n_genes
    if config.graph == "erdos_renyi":
        return np.triu(rng.random((n, n)) < config.edge_probability, k=1)
    attach = max(1, round(config.edge_probability * (n - 1) / 2))
    attach = min(attach, n - 1)
    undirected = nx.barabasi_albert_graph(n, attach, seed=int(rng.integers(2**31)))
    # Relabel by a random order so hubs are not always the oldest nodes; orient edges along the order.
    order = rng.permutation(n)
    adjacency = np.zeros((n, n), dtype=bool)
    for u, v in undirected.edges():
        i, j = sorted((int(order[u]), int(order[v])))
        adjacency[i, j] = True
    return adjacency


def _standardise(values: np.ndarray) -> np.ndarray:
    std = values.std()
    return (values - values.mean()) / (std if std > 0 else 1.0)


def label_nonlinear_term(causes: np.ndarray, config: SyntheticDataConfig) -> np.ndarray:
    """The part of the label's logit that no linear reader of its causes can represent (issue 21).

    `causes` (n, k): the label's standardised causes in sorted order. Non-monotone terms, so logistic
    regression on the causes recovers none of it: the product of the first two causes (an interaction),
    sin(2x) or |x| − E|x| of the first. Deterministic (no random draws): an SCM with `none` is sampled exactly
    as before the option existed.
    """
    strength = config.label_nonlinear_strength or 2.0 * config.label_strength
    first = causes[:, 0]
    if config.label_nonlinearity == "interaction":
        return strength * first * causes[:, 1]
    if config.label_nonlinearity == "sine":
        return strength * np.sin(2.0 * first)
    if config.label_nonlinearity == "abs":
        return strength * (np.abs(first) - np.sqrt(2.0 / np.pi))
    return np.zeros(len(causes))


def make_synthetic_pancancer(config: SyntheticDataConfig) -> Dataset:
    """Sample the SCM of `config` (deterministic in `config.seed`)."""
    return sample_with_label_logits(config)[0]


def sample_with_label_logits(config: SyntheticDataConfig) -> tuple[Dataset, np.ndarray]:
    """`make_synthetic_pancancer(config)`, and the logit of P(label = positive | its causes) of each row.

    The logit is what the Bayes-optimal reader of the label's causes knows; the benchmarks compare
    representations with it.

    Args:
        config (SyntheticDataConfig): the SCM.

    Returns:
        tuple[Dataset, np.ndarray]: the data, and the logits, shape (n_samples,), in the rows' order.
    """
    rng = np.random.default_rng(config.seed)
    n, n_genes, cohorts = config.n_samples, config.n_genes, list(config.groups)
    adjacency = _random_dag(config, rng)
    groups = np.array(cohorts)[rng.integers(0, len(cohorts), size=n)]
    cohort_index = np.searchsorted(np.array(sorted(cohorts)), groups)
    sorted_cohorts = sorted(cohorts)

    has_parents = adjacency.any(axis=0)
    changed = rng.choice(
        np.flatnonzero(has_parents),
        size=min(config.n_changed_mechanisms, int(has_parents.sum())),
        replace=False,
    )
    # Per cohort (in sorted order) and gene: a multiplier of the mechanism; 1 except for the changed genes.
    mechanism_scale = np.ones((len(cohorts), n_genes))
    for gene in changed:
        mechanism_scale[:, gene] = rng.permutation(np.linspace(0.3, 1.7, len(cohorts)))
    root_shift = rng.normal(0.0, config.root_shift, size=(len(cohorts), n_genes))

    genes = np.zeros((n, n_genes))
    for j in range(n_genes):
        noise = rng.normal(0.0, 1.0, size=n)
        parents = np.flatnonzero(adjacency[:, j])
        if parents.size == 0:
            genes[:, j] = root_shift[cohort_index, j] + noise
            continue
        drive = np.zeros(n)
        for i in parents:
            weight = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.5)
            parent = _standardise(genes[:, i])
            if config.mechanism == "linear":
                drive += weight * parent
            else:
                drive += weight * _EDGE_FUNCTIONS[int(rng.integers(len(_EDGE_FUNCTIONS)))](parent)
        # A fixed signal-to-noise ratio per gene (R² between 0.6 and 0.85): deep genes neither vanish into
        # noise nor blow up. The rescaling constant is pooled over cohorts, so mechanisms stay invariant.
        signal = rng.uniform(1.2, 2.4) * _standardise(drive)
        genes[:, j] = mechanism_scale[cohort_index, j] * signal + noise

    # The label's causes prefer genes with parents, so the causes sit inside the graph.
    candidates = np.argsort(-adjacency.sum(axis=0) + rng.random(n_genes) * 0.5)
    causal = np.sort(candidates[: config.n_causal_genes])
    standardised = (genes - genes.mean(axis=0)) / genes.std(axis=0)
    weights = rng.choice([-1.0, 1.0], size=causal.size) * config.label_strength
    logit = standardised[:, causal] @ weights + label_nonlinear_term(standardised[:, causal], config)
    labels = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)

    strengths = rng.uniform(0.6, 1.6, size=(len(cohorts), config.n_biomarkers))
    if config.flip_group is not None:
        flip_row = sorted_cohorts.index(config.flip_group)
        strengths[flip_row, : config.flipped_biomarkers] *= -1.0
    signed_label = (2 * labels - 1).astype(np.float64)
    biomarkers = strengths[cohort_index] * signed_label[:, None] + rng.normal(
        0.0, 1.0, size=(n, config.n_biomarkers)
    )

    gene_names = [f"gene_{i:02d}" for i in range(n_genes)]
    biomarker_names = [f"biomarker_{k}" for k in range(config.n_biomarkers)]
    names = gene_names + biomarker_names
    features = np.concatenate([genes, biomarkers], axis=1)
    # Shuffle the columns so the generating order (a topological order) is not visible in the column order.
    order = rng.permutation(len(names))
    dataset = Dataset(
        features=features[:, order].astype(np.float32),
        feature_names=[names[k] for k in order],
        labels=labels,
        class_names=["negative", "positive"],
        groups=groups,
        true_edges=[(gene_names[i], gene_names[j]) for i, j in zip(*np.nonzero(adjacency), strict=True)],
        label_parents=[gene_names[k] for k in causal],
        label_children=list(biomarker_names),
        name="synthetic_pancancer",
    )
    return dataset, logit
