"""Exp-5 of the seed's protocol, reproducibility: the spread of the test accuracy over the repro seeds, and
whether a rerun of the same seed gives the same weights, from the trainings' `RunSummary`s."""

from __future__ import annotations

from typing import Any

import numpy as np

from model.artifacts import ProtocolOutcome, RunSummary, json_bytes
from model.evaluation import plots


def _shape(run: RunSummary) -> dict[str, Any]:
    """The machine shape a training ran as: usable CPUs and the intra-op threads it used."""
    if run.runtime is None:
        return {"usable_cpus": None, "threads": None}
    return {"usable_cpus": run.runtime.usable_cpus, "threads": run.runtime.threads}


def check_reproducibility(
    runs: list[RunSummary], max_std: float, rerun_pairs: list[tuple[str, str]]
) -> ProtocolOutcome:
    """Exp-5: same seed twice must match bit for bit, also when the second run is on another machine shape
    (its `runtime`: usable CPUs and threads, recorded per run); std(accuracy) over distinct seeds below
    `max_std`."""
    by_name = {run.name: run for run in runs}
    pair_shapes = [[_shape(by_name[first]), _shape(by_name[second])] for first, second in rerun_pairs]
    identical = [
        {
            "runs": [first, second],
            "machine_shapes": shapes,
            "weights_identical": by_name[first].weights_digest == by_name[second].weights_digest,
            "metrics_identical": by_name[first].metrics == by_name[second].metrics,
        }
        for (first, second), shapes in zip(rerun_pairs, pair_shapes, strict=True)
    ]
    seeds: dict[int, RunSummary] = {}
    for run in runs:
        seeds.setdefault(run.seed, run)
    accuracies = [run.metrics.get("accuracy", float("nan")) for run in seeds.values()]
    std = float(np.std(accuracies)) if accuracies else float("nan")
    log = {
        "same_seed": identical,
        "same_seed_identical": all(p["weights_identical"] and p["metrics_identical"] for p in identical),
        "seeds": {str(seed): run.metrics for seed, run in seeds.items()},
        "accuracy_mean": float(np.mean(accuracies)) if accuracies else float("nan"),
        "accuracy_std": std,
        "max_std": max_std,
        "passed": bool(std < max_std),
    }
    figure = plots.bar_chart(
        {f"seed {seed}": run.metrics.get("accuracy", float("nan")) for seed, run in seeds.items()},
        "test accuracy",
        f"Accuracy over seeds (std = {std:.4f})",
    )
    flat = [shape for shapes in pair_shapes for shape in shapes]
    return ProtocolOutcome(
        metrics={
            "accuracy_std": std,
            "same_seed_identical": log["same_seed_identical"],
            "same_seed_cpus": sorted({s["usable_cpus"] for s in flat if s["usable_cpus"] is not None}),
            "threads": sorted({s["threads"] for s in flat if s["threads"] is not None}),
        },
        files={"reproducibility_log.json": json_bytes(log), "visuals/repro_accuracy.png": figure},
    )
