"""Every document of a run's report, made from the protocol's outcomes and the promotion verdict alone: the
summary as Markdown and as an interactive HTML page in each language `report.language` asks for, and the model
card (the registered version's description)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from model.artifacts import PromotionVerdict, ProtocolOutcome
from model.config import ExperimentConfig
from model.report.figures import interactive_figures
from model.report.html import render_html
from model.report.model_card import render_model_card
from model.report.summary import DataFacts, render_summary, summary_files

MODEL_CARD_FILE = "reports/model_card.md"


@dataclass(frozen=True)
class ReportDocuments:
    """The report's files (path under the run's folder -> bytes) and, for the step's artifacts, the first
    language's summary as Markdown and HTML and the model card."""

    files: dict[str, bytes]
    summary: str
    summary_html: str
    model_card: str


def render_report(
    run_name: str,
    experiment: ExperimentConfig,
    outcomes: Mapping[str, ProtocolOutcome],
    main_metrics: Mapping[str, float],
    verdict: PromotionVerdict,
    data: DataFacts,
    runtime: str,
) -> ReportDocuments:
    """The summary in each language of `experiment.report.language` (`reports/summary.md` and `.html`, and
    `summary.ja.*` with `both`) and `reports/model_card.md`.

    Args:
        run_name: The run's folder name, shown as the report's title.
        experiment: The run's configuration (profile, gates, evaluation.metrics, report.language).
        outcomes: The protocol checks' outcomes by name: attention, latent, lattice, utility, reproducibility
            and subsets.
        main_metrics: The main model's test metrics.
        verdict: The promotion gates of the run.
        data: The data's name, shape and fingerprint.
        runtime: What the main training ran on, in words.
    """
    metrics: dict[str, Any] = {name: outcome.metrics for name, outcome in outcomes.items()}
    metrics["main"] = dict(main_metrics)
    figures = sorted(path for outcome in outcomes.values() for path in outcome.files if path.endswith(".png"))
    files: dict[str, bytes] = {}
    pages: list[tuple[str, str]] = []
    for language, (md_name, html_name) in summary_files(experiment.report.language).items():
        markdown = render_summary(
            run_name, experiment, metrics, verdict.gates, figures, data, language, runtime
        )
        # The page lists no PNGs: it shows every figure interactive instead.
        page_text = render_summary(run_name, experiment, metrics, verdict.gates, [], data, language, runtime)
        page = render_html(
            page_text, f"causal-lattice {run_name}", interactive_figures(outcomes, language), language
        )
        files[f"reports/{md_name}"], files[f"reports/{html_name}"] = markdown.encode(), page.encode()
        pages.append((markdown, page))
    card = render_model_card(run_name, experiment, data, metrics, verdict.gates)
    files[MODEL_CARD_FILE] = card.encode()
    (summary, summary_html), *_ = pages
    return ReportDocuments(files=files, summary=summary, summary_html=summary_html, model_card=card)
