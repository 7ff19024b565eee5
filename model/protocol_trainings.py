"""The parts of the seed's protocol that compare several trainings: Exp-5 (reproducibility over seeds) and the
cohort subsets of VI.3 (per-cohort retraining and leave-one-cohort-out), as plain functions over `RunSummary`s.

Each returns a `ProtocolOutcome` (model/protocol.py): measured numbers plus the files of SPEC §4.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from model import plots
from model.baselines import baseline_accuracy, oracle_accuracy
from model.data import DataSplits
from model.data_view import DataView
from model.protocol import ProtocolOutcome, json_bytes
from model.threads import RuntimeInfo


def weights_digest(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class RunSummary:
    """What a training invocation contributes to the repro and subset protocols."""

    name: str
    seed: int
    view: DataView
    metrics: dict[str, float]
    weights_digest: str
    runtime: RuntimeInfo | None = None


def _shape(run: RunSummary) -> dict[str, Any]:
    """The machine shape a training ran as: usable CPUs and the intra-op threads it used."""
    if run.runtime is None:
        return {"usable_cpus": None, "threads": None}
    return {"usable_cpus": run.runtime.usable_cpus, "threads": run.runtime.threads}


def exp5_reproducibility(
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


def cohort_subsets(
    group_runs: list[RunSummary], logo_runs: list[RunSummary], splits: DataSplits
) -> ProtocolOutcome:
    """Seed VI.3: retrain per cohort and leave-one-cohort-out; accuracy gap and Evidently drift per cohort.

    Each held-out cohort's accuracy stands beside logistic regression on every feature and, where the data
    knows the label's parents, on those alone (the oracle), fitted on the same rows."""
    from model.drift import data_drift

    dataset = splits.dataset
    per_group = {str(run.view.group): run.metrics.get("accuracy", float("nan")) for run in group_runs}
    per_logo = {str(run.view.group): run.metrics.get("accuracy", float("nan")) for run in logo_runs}
    logistic: dict[str, float] = {}
    oracle: dict[str, float | None] = {}
    if dataset.labels is not None:
        for run in logo_runs:
            split, cohort = splits[run.view], str(run.view.group)
            logistic[cohort] = baseline_accuracy("logistic_regression", split.train, split.test)
            oracle[cohort] = oracle_accuracy(split.train, split.test)
    logo_baselines = {c: {"logistic_regression": logistic[c], "oracle": oracle[c]} for c in logistic}
    gap = float(max(per_group.values()) - min(per_group.values())) if per_group else float("nan")
    files: dict[str, bytes] = {}
    drift: dict[str, dict[str, Any]] = {}
    if dataset.groups is not None:
        frame = pd.DataFrame(dataset.features, columns=dataset.feature_names)
        for group in sorted(set(per_group) | set(per_logo)):
            mask = dataset.groups == group
            result = data_drift(frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True))
            drift[group] = {
                "drifted_share": result.drifted_share,
                "drifted_count": result.drifted_count,
                "p_values": result.column_p_values,
            }
            files[f"subsets/drift_{group}.html"] = result.html.encode()
    summary = {
        "group_accuracy": per_group,
        "subset_accuracy_gap": gap,
        "logo_accuracy": per_logo,
        "logo_accuracy_mean": float(np.mean(list(per_logo.values()))) if per_logo else float("nan"),
        "logo_baselines": logo_baselines,
        "drift_vs_other_groups": drift,
    }
    files["subsets/subset_summary.json"] = json_bytes(summary)
    chart = (
        {f"{g} (within)": a for g, a in per_group.items()}
        | {f"{g} (held out)": a for g, a in per_logo.items()}
        | {f"{g} (held out, logistic regression)": a for g, a in logistic.items()}
    )
    if chart:
        files["subsets/subset_accuracy.png"] = plots.bar_chart(
            chart, "test accuracy", f"Per-cohort retraining and leave-one-cohort-out (gap = {gap:.3f})"
        )
    return ProtocolOutcome(
        metrics={
            "group_accuracy": per_group,
            "subset_accuracy_gap": gap,
            "logo_accuracy_mean": summary["logo_accuracy_mean"],
            "logo_accuracy": per_logo,
            "logo_baselines": logo_baselines,
        },
        files=files,
    )
