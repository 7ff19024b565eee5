"""The run summary in Markdown: the seed's section VII table with measured values, what the prediction reads,
leave-one-cohort-out beside its baselines, the promotion gates and the list of figures, in English or Japanese
from one set of numbers. Built from the protocol's outcomes alone; `model/report/html.py` makes the interactive
page of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from model.artifacts import PromotionGate
from model.config import ExperimentConfig
from model.gates.promotion import gate_table
from model.markup import markdown_code, markdown_text
from model.report.rows import fmt, reading, vii_rows
from model.report.text import phrases

PROMOTION_FILE = "promotion.md"  # written next to the summary by the promote step, after the report


@dataclass(frozen=True)
class DataFacts:
    """What the summary and the model card say about the data: its name, shape and fingerprint."""

    name: str
    rows: int
    features: int
    fingerprint: str


def summary_files(setting: str) -> dict[str, tuple[str, str]]:
    """Language -> the summary's Markdown and HTML file names (under reports/) for `report.language`: one
    language gets the plain names, `both` gives English the plain names and Japanese `summary.ja.*`."""
    if setting == "both":
        return {"en": ("summary.md", "summary.html"), "ja": ("summary.ja.md", "summary.ja.html")}
    return {setting: ("summary.md", "summary.html")}


def render_summary(
    run_name: str,
    config: ExperimentConfig,
    metrics: Mapping[str, Mapping[str, Any]],
    gates: list[PromotionGate],
    figures: list[str],
    data: DataFacts,
    language: str = "en",
    runtime: str = "not recorded",
) -> str:
    """The summary in `language` (en or ja). `metrics` is keyed by protocol step: attention, latent, lattice,
    utility, reproducibility, subsets, and main (the main model's held-out test metrics; the headline shows
    those named in `evaluation.metrics`). `figures` are paths relative to the run folder (none: no list);
    `runtime` describes what the main model trained on."""
    t = phrases(language)
    train, subsets, main = config.train, metrics["subsets"], metrics["main"]
    lambdas = f"{train.lambdas.causal}/{train.lambdas.geometric}/{train.lambdas.reg}"
    logo_rows = [
        f"| {markdown_text(cohort)} | {fmt(accuracy)} "
        f"| {fmt(subsets['logo_baselines'].get(cohort, {}).get('logistic_regression'))} "
        f"| {fmt(subsets['logo_baselines'].get(cohort, {}).get('oracle'))} |"
        for cohort, accuracy in subsets["logo_accuracy"].items()
    ]
    passed = not any(g.blocks for g in gates)
    lines = [
        f"# {t['title'].format(run=markdown_code(run_name))}",
        "",
        "- "
        + t["profile"].format(
            profile=markdown_text(config.profile),
            seed=train.seed,
            batch=train.batch_size,
            epochs=train.epochs,
            optimizer=train.optimizer,
            lr=train.lr,
            lambdas=lambdas,
            d_model=config.model.d_model,
            blocks=config.model.n_blocks,
        ),
        "- " + t["data"].format(**(vars(data) | {"name": markdown_text(data.name)})),
        "- " + t["runtime"].format(runtime=runtime),
        "- "
        + t["headline"].format(
            values=", ".join(
                f"{name} {fmt(main.get(name, float('nan')))}" for name in config.evaluation.metrics
            )
        ),
        *(
            [
                "- "
                + t["parts"].format(
                    **{k: fmt(main[f"accuracy_{k}_part"]) for k in ("head", "readout")},
                    both=fmt(main["accuracy"]),
                )
            ]
            if "accuracy_head_part" in main
            else []
        ),
        "",
        f"## {t['results']}",
        "",
        t["columns"],
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in vii_rows(config, metrics, language)],
        "",
        f"## {t['reading']}",
        "",
        reading(metrics["lattice"], language),
        "",
        *(
            [
                f"## {t['logo']}",
                "",
                t["logo_text"],
                "",
                t["logo_columns"],
                "|---|---|---|---|",
                *logo_rows,
                "",
            ]
            if logo_rows
            else []
        ),
        f"## {t['gates']}",
        "",
        *gate_table(gates, language),
        "",
        t["all_passed"].format(v=t["yes" if passed else "no"])
        + "".join(
            t["not_applicable"].format(name=g.name, reason=markdown_text(g.reason))
            for g in gates
            if not g.applicable
        ),
        "",
        *[
            t["failed"].format(name=g.name, reason=markdown_text(g.reason))
            for g in gates
            if g.blocks and g.reason
        ],
        *([""] if any(g.blocks and g.reason for g in gates) else []),
        t["promotion"].format(file=PROMOTION_FILE),
        "",
    ]
    if figures:
        lines += [f"## {t['figures']}", "", t["figures_text"], "", *[f"- [{p}](../{p})" for p in figures], ""]
    return "\n".join(lines)
