"""The baselines of bench/structure.py: structure learners (causal-learn's PC and GES, DAGMA's nonlinear MLP
model), each in its own spawned process with a time limit, scored against the true DAG; and the prediction
baselines (model/evaluation/baselines.py) on every feature or on the features a trained model may read, with the
non-descendant ceiling they are compared with (the causal ceiling is model/evaluation/baselines.py: causal_ceiling)."""

from __future__ import annotations

import logging
import multiprocessing
import time
from typing import Any

import numpy as np
import torch

from model.data.splits import DataSplit
from model.data.tables import Dataset
from model.evaluation.baselines import baseline_accuracies, baseline_accuracy, feature_subset
from model.evaluation.graph_metrics import structure_recovery

logger = logging.getLogger("causal_lattice.bench.structure")


def _cpdag_to_adjacency(graph: np.ndarray) -> np.ndarray:
    """causal-learn's endpoint matrix to an adjacency: i -> j when G[j, i] == 1 and G[i, j] == -1; an undirected
    edge (-1, -1) counts as both directions."""
    tail, head = graph == -1, graph == 1
    return ((tail & head.T) | (tail & tail.T)).astype(float)


def _fit_pc(data: np.ndarray) -> np.ndarray:
    from causallearn.search.ConstraintBased.PC import pc

    return _cpdag_to_adjacency(pc(data, 0.01, "fisherz", show_progress=False).G.graph)


def _fit_ges(data: np.ndarray) -> np.ndarray:
    from causallearn.search.ScoreBased.GES import ges

    return _cpdag_to_adjacency(ges(data, "local_score_BIC")["G"].graph)


def _fit_dagma(data: np.ndarray) -> np.ndarray:
    from dagma.nonlinear import DagmaMLP, DagmaNonlinear

    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    mlp = DagmaMLP(dims=[data.shape[1], 10, 1], bias=True)
    # Fewer iterations than the package's defaults (5e4 warm, 8e4 max per stage, over half an hour per SCM on
    # two cores), with the learning rate raised by the same factor.
    return DagmaNonlinear(mlp, verbose=False).fit(data, warm_iter=1e4, max_iter=2e4, lr=1e-3)


STRUCTURE_BASELINES = {"pc": _fit_pc, "ges": _fit_ges, "dagma": _fit_dagma}


def structure_baselines(train: Dataset, timeout_s: float) -> dict[str, dict[str, Any]]:
    """PC, GES and DAGMA (MLP) on the standardised training rows; each with its SHD, edge AUROC and seconds.
    Each runs in its own process and is stopped after `timeout_s` (recorded as such, and then not a candidate
    for the best baseline)."""
    x = train.features.astype(np.float64)
    truth = train.true_graph()
    results: dict[str, dict[str, Any]] = {}
    for name, method in STRUCTURE_BASELINES.items():
        started = time.perf_counter()
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            pending = pool.apply_async(method, (x,))
            try:
                adjacency = np.abs(pending.get(timeout=timeout_s))
            except multiprocessing.TimeoutError:
                pool.terminate()
                results[name] = {"error": f"stopped after {timeout_s:.0f} s", "seconds": timeout_s}
                logger.info("%s: %s stopped after %.0fs", train.name, name, timeout_s)
                continue
        recovery = structure_recovery(adjacency, train.feature_names, truth, 1e-9)
        results[name] = {
            "shd": recovery.shd,
            "edge_auroc": recovery.edge_auroc,
            "n_edges": int((adjacency > 1e-9).sum()),
            "seconds": time.perf_counter() - started,
        }
        logger.info("%s: %s SHD %d (%.0fs)", train.name, name, recovery.shd, results[name]["seconds"])
    return results


def prediction_baselines(split: DataSplit, features: list[str] | None = None) -> dict[str, float | None]:
    """Logistic regression, gradient boosting and the MLP (model/evaluation/baselines.py) on the columns `features` (None:
    every feature) of the split's training rows, scored on its test rows."""
    return baseline_accuracies(split.train, split.test, features)


def non_descendant_ceiling(split: DataSplit) -> float:
    """Logistic regression on every feature but the label's true descendants: what a linear predictor that reads
    only the label's non-descendants (docs/design.md §2.9) can reach, for comparison with the all-feature
    baselines."""
    children = set(split.train.label_children or [])
    keep = [name for name in split.train.feature_names if name not in children]
    return baseline_accuracy(
        "logistic_regression", feature_subset(split.train, keep), feature_subset(split.test, keep)
    )
