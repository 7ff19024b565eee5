"""report: the seed's section VII table with this run's measured values and the promotion gates, as Markdown and
as one self-contained interactive HTML page, in English, Japanese or both; and the model card."""

import logging
import os
from typing import Annotated

from zenml import step
from zenml.types import HTMLString, MarkdownString

from model.config import ExperimentConfig
from model.data import Dataset
from model.model_card import render_model_card
from model.promotion_gates import PromotionVerdict, evaluate_promotion_gates
from model.protocol import ProtocolOutcome
from model.report import DataFacts, render_summary, summary_files
from model.report_figures import interactive_figures
from model.report_html import render_html
from model.trainer import TrainedModel
from steps.results import run_directory, write_files
from steps.tracking import track

logger = logging.getLogger(__name__)
SUMMARY_HTML_FILE = "reports/summary.html"
MODEL_CARD_FILE = "reports/model_card.md"


@step
def report(
    experiment: ExperimentConfig,
    trained_model: TrainedModel,
    dataset: Dataset,
    attention_result: ProtocolOutcome,
    latent_result: ProtocolOutcome,
    lattice_result: ProtocolOutcome,
    utility_result: ProtocolOutcome,
    reproducibility_result: ProtocolOutcome,
    subset_result: ProtocolOutcome,
) -> tuple[
    Annotated[PromotionVerdict, "promotion_verdict"],
    Annotated[MarkdownString, "summary"],
    Annotated[HTMLString, "summary_html"],
    Annotated[MarkdownString, "model_card"],
]:
    """Evaluates the promotion gates and writes the run summary from the protocol's artifacts alone.

    Reads the six protocol outcomes (their numbers and the bytes of their figures, from the artifact store:
    nothing from another step's folder), the main `trained_model`'s test metrics, `dataset` (name, size,
    fingerprint) and `experiment` (profile, gates, evaluation.metrics, report.language). Writes
    `reports/summary.md` and `reports/summary.html` (every figure interactive, plotly.js inlined), and with
    `report.language: both` also `summary.ja.md` and `summary.ja.html`, and logs them to MLflow. Returns
    `promotion_verdict` (the SPEC §5 gates), `summary` and `summary_html` (the first language's) and
    `model_card` (the registered model version's description, also in `reports/model_card.md`).
    """
    outcomes = {
        "attention": attention_result,
        "latent": latent_result,
        "lattice": lattice_result,
        "utility": utility_result,
        "reproducibility": reproducibility_result,
        "subsets": subset_result,
    }
    metrics = {name: outcome.metrics for name, outcome in outcomes.items()}
    metrics["main"] = trained_model.test_metrics
    gate_inputs = {
        "accuracy_std": reproducibility_result.metrics["accuracy_std"],
        "subset_accuracy_gap": subset_result.metrics["subset_accuracy_gap"],
        "flops_reduction": utility_result.metrics["flops_reduction"],
        "gated_accuracy": utility_result.metrics["gated_accuracy"],
        "dense_accuracy": utility_result.metrics["dense_accuracy"],
    }
    verdict = PromotionVerdict(
        gates=evaluate_promotion_gates(gate_inputs, experiment.gates), metrics=gate_inputs
    )
    figures = {
        path: content
        for outcome in outcomes.values()
        for path, content in outcome.files.items()
        if path.endswith(".png")
    }
    data = DataFacts(
        name=dataset.name,
        rows=int(dataset.features.shape[0]),
        features=dataset.n_features,
        fingerprint=dataset.fingerprint(),
    )
    directory = run_directory(experiment)
    files: dict[str, bytes] = {}
    pages: list[tuple[str, str]] = []
    for language, (md_name, html_name) in summary_files(experiment.report.language).items():
        markdown = render_summary(
            directory.name, experiment, metrics, verdict.gates, sorted(figures), data, language
        )
        page = render_html(
            render_summary(directory.name, experiment, metrics, verdict.gates, [], data, language),
            f"causal-lattice {directory.name}",
            interactive_figures(outcomes, language),
            language,
        )
        files[f"reports/{md_name}"], files[f"reports/{html_name}"] = markdown.encode(), page.encode()
        pages.append((markdown, page))
    card = render_model_card(directory.name, experiment, data, metrics, verdict.gates)
    files[MODEL_CARD_FILE] = card.encode()
    write_files(experiment, files)
    track(
        experiment,
        metrics={
            "gate": {g.name: g.value for g in verdict.gates},
            "gate_passed": {g.name: g.passed for g in verdict.gates},
            "all_gates_passed": verdict.passed,
            "main": trained_model.test_metrics,
        },
        files=files,
    )
    latest = directory.parent / "latest"
    # A relative symlink to the newest run; earlier runs stay where they are.
    if latest.is_symlink() or not latest.exists():
        latest.unlink(missing_ok=True)
        os.symlink(directory.name, latest)
    logger.info("report: %s (all gates passed: %s)", directory / SUMMARY_HTML_FILE, verdict.passed)
    markdown, page = pages[0]
    return verdict, MarkdownString(markdown), HTMLString(page), MarkdownString(card)
