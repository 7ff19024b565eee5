"""The model card: what the registered model version says about itself (its MLflow description).

Generated from the run's numbers (the same the summary shows): the data's fingerprint and shape, the
configuration profile, the metrics beside the seed's reference values, the promotion gates, the features the
prediction reads, and the learned lattice's edge count with its recovery scores where the truth is known. MLflow
keeps a model version's description in a column of 5,000 characters (PostgreSQL enforces it), so long lists
are shortened and the card never exceeds `MAX_CHARS`, which leaves room for the decision the promote step adds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from model.artifacts import PromotionGate
from model.config import ExperimentConfig
from model.gates.promotion import gate_table
from model.markup import markdown_code, markdown_text
from model.report.rows import fmt
from model.report.summary import DataFacts

MAX_CHARS = 4500
DESCRIPTION_CHARS = 5000  # MLflow's column
LISTED = 24  # names listed per list before "and N more"


def _names(items: Sequence[str]) -> str:
    shown = ", ".join(markdown_code(str(name)) for name in items[:LISTED]) or "none"
    return shown + (f" and {len(items) - LISTED} more" if len(items) > LISTED else "")


def render_model_card(
    run_name: str,
    config: ExperimentConfig,
    data: DataFacts,
    metrics: Mapping[str, Mapping[str, Any]],
    gates: Sequence[PromotionGate],
) -> str:
    """Markdown; `metrics` as for `model.report.summary.render_summary` (attention, latent, lattice, utility,
    reproducibility, subsets, main)."""
    ref, train, model = config.gates, config.train, config.model
    att, lat, lattice = metrics["attention"], metrics["latent"], metrics["lattice"]
    util, repro, subsets, main = (metrics[k] for k in ("utility", "reproducibility", "subsets", "main"))
    measured = [
        ("test accuracy (main model)", fmt(main.get("accuracy", float("nan"))), "-"),
        ("test AUROC / F1", f"{fmt(main.get('auroc', float('nan')))} / {fmt(main.get('f1', float('nan')))}", "-"),
        ("Exp-1 attention KL to the causal prior", fmt(att["kl_causal"]), f"{ref.reference_kl_causal}"),
        ("Exp-2 silhouette of z", fmt(lat["silhouette"]), f"{ref.reference_silhouette}"),
        ("Exp-3 lattice degree variance", fmt(lattice["degree_variance"]), f"{ref.reference_degree_variance}"),
        ("Exp-4 FLOPs reduction", f"{fmt(100 * util['flops_reduction'], 1)}%", f">= {100 * ref.min_flops_reduction:.0f}%"),
        ("Exp-4 accuracy routed / dense", f"{fmt(util['routed_accuracy'])} / {fmt(util['dense_accuracy'])}", "within 1 point"),
        ("Exp-5 σ(accuracy) over seeds", f"{fmt(100 * repro['accuracy_std'], 2)}%", f"< {100 * ref.max_seed_accuracy_std:.1f}%"),
        ("Exp-5 same seed bit-identical", fmt(bool(repro["same_seed_identical"])), "yes"),
        ("VI.3 cohort accuracy gap", fmt(subsets["subset_accuracy_gap"]), f"< {ref.max_subset_accuracy_gap}"),
        ("VI.3 leave-one-cohort-out mean accuracy", fmt(subsets["logo_accuracy_mean"]), "-"),
    ]  # fmt: skip
    lattice_lines = [
        f"- {lattice['n_edges']} edges between features (edge probability >= {lattice['threshold']}), "
        f"DAG: {fmt(bool(lattice['is_dag']))}, sparsity {fmt(lattice['sparsity'])}, isolated nodes "
        f"{fmt(lattice['isolated_node_share'])}"
    ]
    if "shd" in lattice:
        lattice_lines.append(
            f"- against the true DAG: SHD {lattice['shd']}, precision {fmt(lattice['edge_precision'])}, "
            f"recall {fmt(lattice['edge_recall'])}, edge AUROC {fmt(lattice['edge_auroc'])}"
        )
    else:
        lattice_lines.append("- no true DAG known for this data: no recovery scores")
    readable = list(lattice["readable_features"])
    if "label_parents" in lattice:
        reads = [
            f"- reads {len(readable)} features, the label's non-descendants in the learned lattice: "
            f"{_names(readable)}",
            f"- the label's parents: {_names(lattice['label_parents'])}; children (never read): "
            f"{_names(lattice['label_children'])}",
        ]
        if "label_parent_recall" in lattice:
            reads.append(
                f"- {fmt(100 * lattice['label_parent_recall'], 0)}% of the label's true parents found; true "
                f"downstream features still read: {_names(lattice['readable_true_label_children'])}"
            )
    else:
        reads = [f"- no label node in the lattice: reads all {len(readable)} features"]
    lines = [
        "# Model card: causal lattice transformer",
        "",
        f"- run: {markdown_code(run_name)}",
        f"- data: {markdown_text(data.name)}, {data.rows} rows × {data.features} features, fingerprint `{data.fingerprint}`",
        f"- configuration profile: **{markdown_text(config.profile)}** (seed {train.seed}, {train.epochs} epochs, batch "
        f"{train.batch_size}, {train.optimizer} lr {train.lr}; d_model {model.d_model}, {model.n_blocks} "
        f"blocks, label node: {fmt(model.label_node)})",
        "",
        "## Metrics (held-out test rows) and the seed's references",
        "",
        "| metric | measured | seed reference |",
        "|---|---|---|",
        *[f"| {name} | {value} | {reference} |" for name, value, reference in measured],
        "",
        "## Promotion gates (docs/design.md §5)",
        "",
        *gate_table(gates),
        "",
        "## What the prediction reads",
        "",
        *reads,
        "",
        "## Learned lattice",
        "",
        *lattice_lines,
        "",
    ]
    card = "\n".join(lines)
    if len(card) > MAX_CHARS:
        note = "\n\n(shortened to fit MLflow's description; the run's summary.md has everything)\n"
        # Whole lines only: a cut inside a code span would leave a name's characters outside it, as markup.
        card = card[: MAX_CHARS - len(note)].rsplit("\n", 1)[0] + note
    return card
