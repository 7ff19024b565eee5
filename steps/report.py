"""report: the seed's section VII table with this run's measured values and the promotion gates, as Markdown and
as one self-contained interactive HTML page, in English, Japanese or both; and the model card."""

import logging
import os
from typing import Annotated

from zenml import step
from zenml.types import HTMLString, MarkdownString

from model.baselines import baseline_accuracy
from model.config import ExperimentConfig
from model.data import DataSplits
from model.leakage import integrity_gates
from model.model_card import render_model_card
from model.promotion_gates import PromotionVerdict, evaluate_promotion_gates
from model.protocol import ProtocolOutcome
from model.report import DataFacts, render_summary, summary_files
from model.report_figures import interactive_figures
from model.report_html import render_html
from model.trainer import TrainedModel
from steps.results import run_directory, write_files
from steps.runtime import begin_step
from steps.tracking import track

logger = logging.getLogger(__name__)
SUMMARY_HTML_FILE = "reports/summary.html"
MODEL_CARD_FILE = "reports/model_card.md"


def not_applicable_reasons(experiment: ExperimentConfig, data_splits: DataSplits) -> dict[str, str]:
    """The SPEC §5 gates this data cannot have, and why."""
    reasons = {}
    cohorts = experiment.evaluation.subsets
    if len(cohorts) < 2:
        reasons["subset_accuracy_gap"] = (
            f"evaluation.subsets names {len(cohorts)} cohort(s), a gap needs two"
            + ("; the data has no group column" if data_splits.dataset.groups is None else "")
        )
    if data_splits.dataset.labels is None:
        no_label = "the data has no label column: no accuracy"
        reasons |= {"seed_accuracy_std": no_label, "gated_accuracy_drop": no_label}
        reasons.setdefault("subset_accuracy_gap", no_label)
    elif len(set(experiment.evaluation.repro_seeds) | {experiment.train.seed}) < 2:
        reasons["seed_accuracy_std"] = "one seed only (evaluation.repro_seeds): no spread to measure"
    return reasons


def promotion_verdict(
    experiment: ExperimentConfig,
    trained_model: TrainedModel,
    data_splits: DataSplits,
    reproducibility: ProtocolOutcome,
    subsets: ProtocolOutcome,
    utility: ProtocolOutcome,
) -> PromotionVerdict:
    """SPEC §5's gates (not applicable where the data cannot have them) and the leakage gates."""
    gate_inputs = {
        "accuracy_std": reproducibility.metrics["accuracy_std"],
        "subset_accuracy_gap": subsets.metrics["subset_accuracy_gap"],
        "flops_reduction": utility.metrics["flops_reduction"],
        "gated_accuracy": utility.metrics["gated_accuracy"],
        "dense_accuracy": utility.metrics["dense_accuracy"],
    }
    gates = evaluate_promotion_gates(
        gate_inputs, experiment.gates, not_applicable_reasons(experiment, data_splits)
    )
    main = data_splits.main
    accuracy = trained_model.test_metrics.get("accuracy")
    baseline = (
        baseline_accuracy("logistic_regression", main.train, main.test)
        if main.train.labels is not None
        else None
    )
    gates += integrity_gates(
        data_splits.dataset, accuracy, baseline, experiment.gates.perfect_accuracy_margin
    )
    metrics = {k: None if v is None or v != v else float(v) for k, v in gate_inputs.items()}
    return PromotionVerdict(gates=gates, metrics=metrics | {"logistic_regression_accuracy": baseline})


@step
def report(
    experiment: ExperimentConfig,
    trained_model: TrainedModel,
    data_splits: DataSplits,
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
    nothing from another step's folder), the main `trained_model`'s test metrics and runtime, `data_splits`
    (the dataset's name, size and fingerprint, its columns for the leakage check, the main split for the
    logistic-regression baseline) and `experiment` (profile, gates, evaluation.metrics, report.language).
    Writes `reports/summary.md` and `reports/summary.html` (every figure interactive, plotly.js inlined), and
    with `report.language: both` also `summary.ja.md` and `summary.ja.html`, and logs them to MLflow. Returns
    `promotion_verdict` (the SPEC §5 gates and the leakage gates), `summary` and `summary_html` (the first
    language's) and `model_card` (the registered model version's description, also in
    `reports/model_card.md`).
    """
    begin_step(experiment)
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
    verdict = promotion_verdict(
        experiment, trained_model, data_splits, reproducibility_result, subset_result, utility_result
    )
    figures = {
        path: content
        for outcome in outcomes.values()
        for path, content in outcome.files.items()
        if path.endswith(".png")
    }
    dataset = data_splits.dataset
    data = DataFacts(
        name=dataset.name,
        rows=int(dataset.features.shape[0]),
        features=dataset.n_features,
        fingerprint=dataset.fingerprint(),
    )
    directory = run_directory(experiment)
    runtime = trained_model.runtime.describe() if trained_model.runtime else "not recorded"
    files: dict[str, bytes] = {}
    pages: list[tuple[str, str]] = []
    for language, (md_name, html_name) in summary_files(experiment.report.language).items():

        def summary(figure_paths: list[str], language: str = language) -> str:
            return render_summary(
                directory.name, experiment, metrics, verdict.gates, figure_paths, data, language, runtime
            )

        markdown = summary(sorted(figures))
        page = render_html(
            summary([]), f"causal-lattice {directory.name}", interactive_figures(outcomes, language), language
        )
        files[f"reports/{md_name}"], files[f"reports/{html_name}"] = markdown.encode(), page.encode()
        pages.append((markdown, page))
    card = render_model_card(directory.name, experiment, data, metrics, verdict.gates)
    files[MODEL_CARD_FILE] = card.encode()
    write_files(experiment, files)
    track(
        experiment,
        metrics={
            "gate": {g.name: g.value for g in verdict.gates if g.value is not None},
            "gate_passed": {g.name: g.passed for g in verdict.gates if g.applicable},
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
    markdown, page = pages[0]
    return verdict, MarkdownString(markdown), HTMLString(page), MarkdownString(card)
