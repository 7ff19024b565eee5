"""The run summary: the seed's section VII table with measured values, the promotion gates and the figures, as
Markdown and as one self-contained HTML page (figures embedded), both built from the protocol's outcomes alone.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping
from typing import Any

from markdown_it import MarkdownIt

from model.config import ExperimentConfig
from model.promotion_gates import PromotionGate, gate_table

PROMOTION_FILE = "promotion.md"  # written next to the summary by the promote step, after the report


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def _reading(lattice: Mapping[str, Any]) -> str:
    """The features the prediction may read (the label's non-descendants in the learned lattice)."""
    readable = list(lattice["readable_features"])
    if "label_parents" not in lattice:
        return f"No label node in the lattice: the prediction reads all {len(readable)} features."
    text = (
        f"The prediction reads the {len(readable)} features the learned lattice places upstream of the label "
        f"(its non-descendants): {', '.join(f'`{name}`' for name in readable) or 'none'}. "
        f"The label's parents in the lattice: {', '.join(f'`{n}`' for n in lattice['label_parents']) or 'none'}; "
        f"its children: {', '.join(f'`{n}`' for n in lattice['label_children']) or 'none'}."
    )
    if "label_parent_recall" in lattice:
        leaks = lattice["readable_true_label_children"]
        text += (
            f" Against the truth: {_fmt(100 * lattice['label_parent_recall'], 0)}% of the label's true parents "
            f"found; true downstream features still read: {', '.join(f'`{n}`' for n in leaks) or 'none'}."
        )
    return text


def render_summary(
    run_name: str,
    config: ExperimentConfig,
    metrics: dict[str, dict[str, Any]],
    gates: list[PromotionGate],
    figures: list[str],
    data_description: str,
    runtime: str = "not recorded",
) -> str:
    """`metrics` is keyed by protocol step: attention, latent, lattice, utility, reproducibility, subsets, and
    main (the main model's held-out test metrics; the line shows those named in `evaluation.metrics`).
    `figures` are paths relative to the run folder; `runtime` describes what the main model trained on."""
    ref = config.gates
    att, lat, lattice = metrics["attention"], metrics["latent"], metrics["lattice"]
    util, repro, subsets, main = (
        metrics["utility"],
        metrics["reproducibility"],
        metrics["subsets"],
        metrics["main"],
    )
    top_blocks = sorted(range(len(util["utility_per_block"])), key=lambda b: -util["utility_per_block"][b])
    active = [b for b in top_blocks if util["utility_per_block"][b] > config.model.gate_threshold]
    rows = [
        (
            "Exp-1",
            "Causal attention",
            f"KL={_fmt(att['kl_causal'])} (seed ref {ref.reference_kl_causal}); "
            f"mean diagonal weight {_fmt(att['attention_diagonal_mean'])}",
        ),
        (
            "Exp-2",
            "Latent space z",
            f"Silhouette={_fmt(lat['silhouette'])} (seed ref {ref.reference_silhouette})"
            + (f"; t-SNE figure skipped: {lat['tsne_skipped']}" if lat.get("tsne_skipped") else ""),
        ),
        (
            "Exp-3",
            "Lattice structure",
            f"DegreeVar={_fmt(lattice['degree_variance'])} (seed ref "
            f"{ref.reference_degree_variance}); {lattice['n_edges']} edges, sparsity {_fmt(lattice['sparsity'])}, "
            f"isolated {_fmt(lattice['isolated_node_share'])}, DAG: {_fmt(lattice['is_dag'])}"
            + (
                f"; vs true DAG: SHD {lattice['shd']}, edge AUROC {_fmt(lattice['edge_auroc'])}"
                if "shd" in lattice
                else ""
            ),
        ),
        (
            "Exp-4",
            "Meta utility",
            f"FLOPs reduction={_fmt(100 * util['flops_reduction'], 1)}%; accuracy gated "
            f"{_fmt(util['gated_accuracy'])} vs dense {_fmt(util['dense_accuracy'])}; blocks with mean utility over "
            f"{config.model.gate_threshold}: {active}; utility entropy {_fmt(util['utility_entropy_first_epoch'])} "
            f"(epoch 1) -> {_fmt(util['utility_entropy'])}",
        ),
        (
            "Exp-5",
            "Reproducibility",
            f"σ(accuracy, seeds {config.evaluation.repro_seeds})="
            f"{_fmt(100 * repro['accuracy_std'], 2)}%; same seed bit-identical: {_fmt(repro['same_seed_identical'])}"
            + (
                f" (as on {' and '.join(map(str, repro['same_seed_cpus']))} usable CPUs, "
                f"{'/'.join(map(str, repro.get('threads', [])))} thread(s))"
                if repro.get("same_seed_cpus")
                else ""
            ),
        ),
        (
            "VI.3",
            "Cohort subsets",
            f"accuracy gap {_fmt(subsets['subset_accuracy_gap'])}; leave-one-cohort-out "
            f"mean accuracy {_fmt(subsets['logo_accuracy_mean'])}",
        ),
    ]
    logo_rows = [
        f"| {cohort} | {_fmt(accuracy)} | {_fmt(subsets['logo_baselines'].get(cohort, {}).get('logistic_regression'))} "
        f"| {_fmt(subsets['logo_baselines'].get(cohort, {}).get('oracle'))} |"
        for cohort, accuracy in subsets["logo_accuracy"].items()
    ]
    lines = [
        f"# causal-lattice run `{run_name}`",
        "",
        f"- configuration profile: **{config.profile}** (seed {config.train.seed}, batch {config.train.batch_size}, "
        f"epochs {config.train.epochs}, {config.train.optimizer} lr {config.train.lr}, "
        f"λ causal/geometric/reg {config.train.lambdas.causal}/{config.train.lambdas.geometric}/"
        f"{config.train.lambdas.reg}; d_model {config.model.d_model}, {config.model.n_blocks} blocks)",
        f"- data: {data_description}",
        f"- runtime (main model): {runtime}",
        "- main model on the held-out test rows (evaluation.metrics): "
        + ", ".join(f"{name} {_fmt(main.get(name, float('nan')))}" for name in config.evaluation.metrics),
        "",
        "## Results (seed section VII)",
        "",
        "| experiment | what | measured |",
        "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
        "",
        "## What the prediction reads",
        "",
        _reading(lattice),
        "",
        *(
            [
                "## Leave one cohort out",
                "",
                "Trained on the other cohorts, tested on all rows of the held-out one, beside logistic regression "
                "on every feature and on the label's true parents (the oracle, where the data knows them).",
                "",
                "| held-out cohort | this model | logistic regression | oracle |",
                "|---|---|---|---|",
                *logo_rows,
                "",
            ]
            if logo_rows
            else []
        ),
        "## Promotion gates (SPEC §5)",
        "",
        *gate_table(gates),
        "",
        f"**All applicable gates passed: {'yes' if not any(g.blocks for g in gates) else 'no'}**"
        + "".join(f"; {g.name} not applicable ({g.reason})" for g in gates if not g.applicable),
        "",
        *[f"- {g.name} FAILED: {g.reason}" for g in gates if g.blocks and g.reason],
        *([""] if any(g.blocks and g.reason for g in gates) else []),
        f"The promote step decides on the MLflow `champion` after this report: [{PROMOTION_FILE}]"
        f"({PROMOTION_FILE}).",
        "",
        "## Figures",
        "",
        "Embedded in `summary.html`; the files, relative to the run folder (and to its MLflow run):",
        "",
        *[f"- [{path}](../{path})" for path in figures],
        "",
    ]
    return "\n".join(lines)


def render_html(markdown: str, title: str, figures: Mapping[str, bytes]) -> str:
    """The summary as one self-contained page: the Markdown rendered, every PNG figure embedded (base64)."""
    body = MarkdownIt("commonmark").enable("table").render(markdown)
    gallery = "".join(
        f'<figure id="{html.escape(path)}"><img alt="{html.escape(path)}" style="max-width:900px" '
        f'src="data:image/png;base64,{base64.b64encode(content).decode()}">'
        f"<figcaption>{html.escape(path)}</figcaption></figure>"
        for path, content in sorted(figures.items())
    )
    style = (
        "body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{body}<h2>Figures</h2>{gallery}</body></html>"
    )
