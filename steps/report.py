"""report: the seed's section VII table with this run's measured values, the gate verdicts, as Markdown + HTML."""

import logging
import os
from typing import Annotated

from markdown_it import MarkdownIt
from zenml import step
from zenml.types import HTMLString, MarkdownString

from model.config import ExperimentConfig
from model.data import Dataset
from model.experiments import ExperimentOutcome
from model.gates import GateVerdict, evaluate_gates
from model.report import render_summary
from model.trainer import TrainedModel
from steps.results import run_directory, write_files
from steps.tracking import track

logger = logging.getLogger(__name__)


def _html(markdown: str, title: str, figures: list[str]) -> str:
    """The summary as a standalone page, with a gallery of the run's figures (paths relative to reports/)."""
    body = MarkdownIt("commonmark").enable("table").render(markdown)
    gallery = "".join(
        f'<figure><img src="../{path}" style="max-width:900px"><figcaption>{path}</figcaption></figure>'
        for path in figures
    )
    style = (
        "body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{style}</style></head>"
        f"<body>{body}<h2>Figure gallery</h2>{gallery}</body></html>"
    )


@step
def report(
    experiment: ExperimentConfig,
    trained_model: TrainedModel,
    dataset: Dataset,
    attention_result: ExperimentOutcome,
    latent_result: ExperimentOutcome,
    lattice_result: ExperimentOutcome,
    utility_result: ExperimentOutcome,
    reproducibility_result: ExperimentOutcome,
    subset_result: ExperimentOutcome,
) -> tuple[
    Annotated[GateVerdict, "gate_verdict"],
    Annotated[MarkdownString, "summary"],
    Annotated[HTMLString, "summary_html"],
]:
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
    verdict = GateVerdict(gates=evaluate_gates(gate_inputs, experiment.gates), metrics=gate_inputs)
    figures = sorted(p for outcome in outcomes.values() for p in outcome.files if p.endswith(".png"))
    description = (
        f"{dataset.name}: {dataset.features.shape[0]} rows, {dataset.n_features} features, fingerprint "
        f"{dataset.fingerprint()}"
    )
    directory = run_directory(experiment)
    markdown = render_summary(directory.name, experiment, metrics, verdict.gates, figures, description)
    html = _html(markdown, f"causal-lattice {directory.name}", figures)
    files = {"reports/summary.md": markdown.encode(), "reports/summary.html": html.encode()}
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
    logger.info("report: %s (all gates passed: %s)", directory / "reports" / "summary.md", verdict.passed)
    return verdict, MarkdownString(markdown), HTMLString(html)
