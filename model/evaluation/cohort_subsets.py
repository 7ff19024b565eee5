"""The cohort subsets of the seed's VI.3 (docs/design.md#the-seed-document): per-cohort trainings and
leave-one-cohort-out beside their baselines and drift."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from model.artifacts import ProtocolOutcome, RunSummary, json_bytes
from model.data.splits import DataSplit, DataSplits
from model.evaluation import plots
from model.evaluation.baselines import baseline_accuracy, causal_ceiling, oracle_accuracy


def accuracy_spread(accuracy: dict[str, float]) -> float:
    """The largest minus the smallest of the cohorts' accuracies (NaN without any): VI.3's accuracy gap."""
    return float(max(accuracy.values()) - min(accuracy.values())) if accuracy else float("nan")


def cohort_ceilings(parts: dict[str, DataSplit]) -> dict[str, float]:
    """Each cohort's causal ceiling (`causal_ceiling`) on its own test rows, trained on its training rows.

    Args:
        parts (dict[str, DataSplit]): cohort -> its within-cohort split.

    Returns:
        dict[str, float]: cohort -> the best true-parent reader's test accuracy; empty where the data does not
        know the label's parents.
    """
    ceilings = {}
    for cohort, part in parts.items():
        best = causal_ceiling(part.train, part.test)
        if best is not None and best["accuracy"] is not None:
            ceilings[cohort] = best["accuracy"]
    return ceilings


def cohort_subsets(
    group_runs: list[RunSummary], logo_runs: list[RunSummary], splits: DataSplits
) -> ProtocolOutcome:
    """Seed VI.3: retrain per cohort and leave-one-cohort-out; accuracy gap and Evidently drift per cohort.

    Each held-out cohort's accuracy stands beside logistic regression on every feature and, where the data
    knows the label's parents, on those alone (the oracle), fitted on the same rows. Where it knows them, each
    cohort's retraining also stands beside the causal ceiling on its own rows, and the ceiling's gap says how
    far apart the cohorts' test rows are for a reader of the label's true causes."""
    from model.data.drift import data_drift

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
    ceiling = cohort_ceilings({str(run.view.group): splits[run.view] for run in group_runs})
    gap = accuracy_spread(per_group)
    ceiling_gap = accuracy_spread(ceiling) if ceiling else None
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
        "group_ceiling_accuracy": ceiling,
        "ceiling_accuracy_gap": ceiling_gap,
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
            "group_ceiling_accuracy": ceiling,
            "ceiling_accuracy_gap": ceiling_gap,
            "logo_accuracy_mean": summary["logo_accuracy_mean"],
            "logo_accuracy": per_logo,
            "logo_baselines": logo_baselines,
        },
        files=files,
    )
