"""report: the seed's section VII table with this run's measured values and the promotion gates, as Markdown and
as one self-contained interactive HTML page, in English, Japanese or both; and the model card."""

import logging
from typing import Annotated

from zenml import step
from zenml.types import HTMLString, MarkdownString

from model.artifacts import PromotionVerdict, ProtocolOutcome, TrainedModel
from model.config import ExperimentConfig
from model.data.splits import DataSplits
from model.gates.verdict import promotion_verdict
from model.report.documents import render_report
from model.report.summary import DataFacts
from steps.support.results import point_latest_at, run_directory, write_files
from steps.support.runtime import begin_step
from steps.support.tracking import track

logger = logging.getLogger(__name__)


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
    `promotion_verdict` (the gates of docs/design.md §5 and the leakage gates), `summary` and `summary_html`
    (the first language's) and `model_card` (the registered model version's description, also in
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
    verdict = promotion_verdict(
        experiment, trained_model, data_splits, reproducibility_result, subset_result, utility_result
    )
    dataset = data_splits.dataset
    data = DataFacts(
        name=dataset.name,
        rows=int(dataset.features.shape[0]),
        features=dataset.n_features,
        fingerprint=dataset.fingerprint(),
    )
    directory = run_directory(experiment)
    runtime = trained_model.runtime.describe() if trained_model.runtime else "not recorded"
    documents = render_report(
        directory.name, experiment, outcomes, trained_model.test_metrics, verdict, data, runtime
    )
    write_files(experiment, documents.files)
    track(
        experiment,
        metrics={
            "gate": {g.name: g.value for g in verdict.gates if g.value is not None},
            "gate_passed": {g.name: g.passed for g in verdict.gates if g.applicable},
            "all_gates_passed": verdict.passed,
            "main": trained_model.test_metrics,
        },
        files=documents.files,
    )
    point_latest_at(directory)
    logger.info("report: %s (all gates passed: %s)", directory / "reports" / "summary.html", verdict.passed)
    return (
        verdict,
        MarkdownString(documents.summary),
        HTMLString(documents.summary_html),
        MarkdownString(documents.model_card),
    )
