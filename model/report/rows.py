"""The seed's section VII table (実験名 / 主観的観察 / 定量結果 / 考察) from the protocol's numbers, in either
language: each verdict is decided once from the numbers, then worded by `model/report/text.py`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from model.config import ExperimentConfig
from model.markup import markdown_code
from model.report.text import phrases

# Silhouette at or above this: clusters clearly apart; between PARTIAL and CLEAR: partly.
SILHOUETTE_CLEAR, SILHOUETTE_PARTIAL = 0.5, 0.25
# Mean diagonal attention above this multiple of the uniform weight 1/F counts as locally concentrated.
LOCAL_FACTOR = 2.0
# Lattice sparsity at or above this reads as sparse; an isolated-node share at or below it as few.
SPARSE, FEW_ISOLATED = 0.7, 0.2


def fmt(value: Any, digits: int = 3, language: str = "en") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return phrases(language)["yes" if value else "no"]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def active_blocks(utility: Mapping[str, Any], threshold: float) -> list[int]:
    """Blocks whose mean utility on the test rows exceeds the router threshold, most useful first."""
    per_block = utility["utility_per_block"]
    ordered = sorted(range(len(per_block)), key=lambda b: -per_block[b])
    return [b for b in ordered if per_block[b] > threshold]


def vii_rows(
    config: ExperimentConfig, metrics: Mapping[str, Mapping[str, Any]], language: str
) -> list[tuple[str, str, str, str]]:
    """(experiment, observation, measured, interpretation) for Exp-1..5 and the cohort test VI.3
    (the seed's parts: docs/design.md#the-seed-document)."""
    t, ref = phrases(language), config.gates

    def f(value: Any, digits: int = 3) -> str:
        return fmt(value, digits, language)

    att, lat, lattice = metrics["attention"], metrics["latent"], metrics["lattice"]
    util, repro, subsets = metrics["utility"], metrics["reproducibility"], metrics["subsets"]
    rows = []

    n_features = int(att.get("n_features", len(lattice.get("readable_features", [])) or 1))
    uniform, diag = 1.0 / max(n_features, 1), att["attention_diagonal_mean"]
    values = {
        "diag": f(diag),
        "uniform": f(uniform),
        "kl": f(att["kl_causal"]),
        "floor": f(att["kl_causal_mask_floor"]),
        "above": f(att["kl_causal_above_floor"]),
        "ref": ref.reference_kl_causal,
    }
    kl_verdict = (
        "att_ok"
        if att["kl_causal"] <= ref.reference_kl_causal
        else "att_floor"
        if att["kl_causal_above_floor"] <= ref.reference_kl_causal
        else "att_weak"
    )
    rows.append(
        (
            "Exp-1",
            t["att_local" if diag > LOCAL_FACTOR * uniform else "att_spread"].format(**values),
            t["att_measured"].format(**values),
            t[kl_verdict].format(**values),
        )
    )

    silhouette = lat["silhouette"]
    separation = (
        "lat_nolabel"
        if math.isnan(silhouette)
        else "lat_clear"
        if silhouette >= SILHOUETTE_CLEAR
        else "lat_partial"
        if silhouette >= SILHOUETTE_PARTIAL
        else "lat_none"
    )
    values = {"s": f(silhouette), "ref": ref.reference_silhouette}
    rows.append(
        (
            "Exp-2",
            t[separation],
            t["lat_measured"].format(**values)
            + (t["tsne_skipped"].format(why=lat["tsne_skipped"]) if lat.get("tsne_skipped") else ""),
            t["lat_ok" if silhouette >= ref.reference_silhouette else "lat_weak"].format(**values),
        )
    )

    sparsity, isolated = lattice["sparsity"], lattice["isolated_node_share"]
    observed = t["lattice_obs"].format(
        edges=lattice["n_edges"],
        sparse=t["sparse" if sparsity >= SPARSE else "dense"].format(v=f(sparsity)),
        isolated=t["few_isolated" if isolated <= FEW_ISOLATED else "many_isolated"].format(v=f(isolated)),
    )
    measured = t["lattice_measured"].format(
        dv=f(lattice["degree_variance"]),
        ref=ref.reference_degree_variance,
        edges=lattice["n_edges"],
        sp=f(sparsity),
        iso=f(isolated),
        dag=f(lattice["is_dag"]),
    )
    interpretation = t["lattice_dag" if lattice["is_dag"] else "lattice_cyclic"]
    if "shd" in lattice:
        measured += t["vs_truth"].format(shd=lattice["shd"], auroc=f(lattice["edge_auroc"]))
        interpretation += t["recovery"].format(
            recall=f(100 * lattice["edge_recall"], 0), precision=f(100 * lattice["edge_precision"], 0)
        )
    rows.append(("Exp-3", observed, measured, interpretation))

    blocks = active_blocks(util, config.model.route_threshold)
    drop = util["dense_accuracy"] - util["routed_accuracy"]
    achieved = util["flops_reduction"] >= ref.min_flops_reduction and drop <= ref.max_routed_accuracy_drop
    values = {
        "r": f(100 * util["flops_reduction"], 1),
        "min": f(100 * ref.min_flops_reduction, 0),
        "drop": f(100 * ref.max_routed_accuracy_drop, 0),
        "routed": f(util["routed_accuracy"]),
        "dense": f(util["dense_accuracy"]),
    }
    rows.append(
        (
            "Exp-4",
            t["util_obs"].format(
                k=len(blocks),
                blocks=blocks,
                first=f(util["utility_entropy_first_epoch"]),
                last=f(util["utility_entropy"]),
            ),
            t["util_measured"].format(**values),
            t["util_ok" if achieved else "util_fail"].format(**values),
        )
    )

    std, limit = repro["accuracy_std"], ref.max_seed_accuracy_std
    level = "repro_high" if std < 0.01 else "repro_good" if std < limit else "repro_low"
    stable = std < limit and bool(repro["same_seed_identical"])
    rows.append(
        (
            "Exp-5",
            t[level].format(max=f(100 * limit, 1)),
            t["repro_measured"].format(
                seeds=config.evaluation.repro_seeds,
                std=f(100 * std, 2),
                identical=f(bool(repro["same_seed_identical"])),
            )
            + (
                t["repro_shapes"].format(
                    cpus=" / ".join(map(str, repro["same_seed_cpus"])),
                    threads="/".join(map(str, repro.get("threads", []))),
                )
                if repro.get("same_seed_cpus")
                else ""
            ),
            t["repro_ok" if stable else "repro_fail"],
        )
    )

    gap = subsets["subset_accuracy_gap"]
    no_cohorts = gap is None or math.isnan(gap)
    per_cohort = ", ".join(f"{c} {f(a)}" for c, a in subsets.get("group_accuracy", {}).items())
    measured = t["cohort_measured"].format(gap=f(gap), logo=f(subsets["logo_accuracy_mean"]))
    # The causal ceiling on the same test rows (where the data knows the label's parents): how far apart the
    # cohorts are for a reader of the true causes, so a gap the rows themselves make is read as such.
    ceiling_gap = subsets.get("ceiling_accuracy_gap")
    if ceiling_gap is not None:
        ceilings = ", ".join(f"{c} {f(a)}" for c, a in subsets["group_ceiling_accuracy"].items())
        measured += t["cohort_ceiling"].format(values=ceilings, gap=f(ceiling_gap))
    if no_cohorts:
        verdict = "cohort_na"
    elif gap < ref.max_subset_accuracy_gap:
        verdict = "cohort_ok"
    elif ceiling_gap is not None and ceiling_gap >= ref.max_subset_accuracy_gap:
        verdict = "cohort_rows"
    else:
        verdict = "cohort_fail"
    rows.append(
        (
            "VI.3",
            t["cohort_obs"].format(values=per_cohort or t["none"]),
            measured,
            t[verdict].format(max=ref.max_subset_accuracy_gap, ceiling_gap=f(ceiling_gap)),
        )
    )
    return rows


def reading(lattice: Mapping[str, Any], language: str) -> str:
    """The features the prediction may read (the label's non-descendants in the learned lattice)."""
    t = phrases(language)
    readable = list(lattice["readable_features"])
    if "label_parents" not in lattice:
        return t["read_all"].format(n=len(readable))

    def names(items: Any) -> str:
        return ", ".join(markdown_code(str(name)) for name in items) or t["none"]

    text = t["read"].format(
        n=len(readable),
        names=names(readable),
        parents=names(lattice["label_parents"]),
        children=names(lattice["label_children"]),
    )
    if "label_parent_recall" in lattice:
        text += t["read_truth"].format(
            recall=fmt(100 * lattice["label_parent_recall"], 0),
            leaks=names(lattice["readable_true_label_children"]),
        )
    return text
