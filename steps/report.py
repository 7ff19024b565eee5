"""report: the seed's section VII table with this run's measured values and the promotion gates, as Markdown and
as one self-contained HTML page."""

import logging
import os
from typing import Annotated

from zenml import step
from zenml.types import HTMLString, MarkdownString

from model.config import ExperimentConfig
from model.data import Dataset
from model.promotion_gates import PromotionVerdict, evaluate_promotion_gates
from model.protocol import ProtocolOutcome
from model.report import render_html, render_summary
from model.trainer import TrainedModel
from steps.results import run_directory, write_files
from steps.tracking import track

logger = logging.getLogger(__name__)
SUMMARY_FILE = "reports/summary.md"
SUMMARY_HTML_FILE = "reports/summary.html"


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
]:
    """Evaluates the promotion gates and writes the run summary from the protocol's artifacts alone.

    Reads the six protocol outcomes (their numbers and the bytes of their figures, from the artifact store:
    nothing from another step's folder), the main `trained_model`'s test metrics, `dataset` (name, size,
    fingerprint) and `experiment` (profile, gates, evaluation.metrics). Writes `reports/summary.md` and
    `reports/summary.html` (every figure embedded) and logs both to MLflow. Returns `promotion_verdict` (the
    SPEC §5 gates), `summary` and `summary_html`.
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
    description = (
        f"{dataset.name}: {dataset.features.shape[0]} rows, {dataset.n_features} features, fingerprint "
        f"{dataset.fingerprint()}"
    )
    directory = run_directory(experiment)
    markdown = render_summary(
        directory.name, experiment, metrics, verdict.gates, sorted(figures), description
    )
    html = render_html(markdown, f"causal-lattice {directory.name}", figures)
    files = {SUMMARY_FILE: markdown.encode(), SUMMARY_HTML_FILE: html.encode()}
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
    try:
        if latest.is_symlink() or not latest.exists():
            latest.unlink(missing_ok=True)
            os.symlink(directory.name, latest)
    except OSError as error:  # only a convenience link: the report itself is written
        logger.warning("could not point %s at %s (%s)", latest, directory.name, error.strerror)
    logger.info("report: %s (all gates passed: %s)", directory / SUMMARY_HTML_FILE, verdict.passed)
    return verdict, MarkdownString(markdown), HTMLString(html)
