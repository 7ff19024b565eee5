"""promote: register the main model in MLflow and move `champion` only when the gates (docs/design.md §5)
allow it."""

import logging
from typing import Annotated

from zenml import step
from zenml.types import MarkdownString

from model.artifacts import PromotionVerdict, TrainedModel
from model.config import ExperimentConfig
from model.data.splits import DataSplits
from model.gates.decision import decide_promotion, promotion_table
from model.markup import markdown_code
from model.report.summary import PROMOTION_FILE
from registry import CHALLENGER, CHAMPION, MODEL_NAME
from registry.tracking import active_run
from steps.support.results import write_files
from steps.support.runtime import begin_step
from steps.support.tracking import step_identity, track

logger = logging.getLogger(__name__)


@step
def promote(
    trained_model: TrainedModel,
    promotion_verdict: PromotionVerdict,
    data_splits: DataSplits,
    experiment: ExperimentConfig,
    model_card: MarkdownString,
) -> Annotated[MarkdownString, "promotion"]:
    """Registers the main model as the `challenger` and moves `champion` only when every gate passes and it is
    at least as accurate as the champion on this run's held-out rows.

    Reads `trained_model` (network and Standardizer, for the pyfunc), `promotion_verdict` (from the report),
    the main split's raw test rows of `data_splits`, the data fingerprint and `model_card` (from the report: the
    registered version's description, to which the decision is added). Writes only its own
    `reports/promotion.md` (the summary links it) and logs it to MLflow. Returns `promotion`, that decision
    table. On a stack without an MLflow tracker nothing is registered and the table says so.
    """
    begin_step(experiment)
    identity = step_identity()
    gates = promotion_verdict.gates
    dataset, data_split = data_splits.dataset, data_splits.main
    title = f"# Promotion gate: run {markdown_code(identity.run_name)}\n\n"
    labels = data_split.test.labels
    if active_run() is None or labels is None or trained_model.model.n_classes == 0:
        why = (
            "the active ZenML stack has no MLflow experiment tracker / model registry "
            "(in a checkout, `python -m tools local-stack` registers one)"
            if labels is not None
            else "the data has no label column, so there is no accuracy to compare"
        )
        accuracy = float(trained_model.test_metrics.get("accuracy", float("nan")))
        decision = decide_promotion(gates, accuracy, None)
        table = promotion_table(gates, "this run's model (not registered)", accuracy, None, None, decision)
        markdown = f"{title}Not registered: {why}.\n\nWhat the gate would decide:\n\n{table}"
        headline = (
            "not registered ("
            + ("no label column" if labels is None else "no MLflow registry on the stack")
            + ")"
        )
    else:
        from registry.promotion import HeldOut, register_and_decide, source_commit

        held_out = HeldOut(
            frame=data_split.raw_test_frame(), labels=labels, class_names=data_split.test.class_names
        )
        tags = {
            "zenml.pipeline": identity.pipeline,
            "zenml.run_name": identity.run_name,
            "zenml.run_id": identity.run_id,
            "data.fingerprint": dataset.fingerprint(),
            "data.name": dataset.name,
            "config.profile": experiment.profile,
            "model.view": str(trained_model.view),
            "model.seed": str(trained_model.seed),
            **source_commit(),
        }
        outcome = register_and_decide(trained_model, gates, held_out, tags, str(model_card))
        champion = f"version {outcome.champion_version}" if outcome.champion_version else None
        table = promotion_table(
            gates,
            f"version {outcome.version}",
            outcome.challenger_accuracy,
            champion,
            outcome.champion_accuracy,
            outcome.decision,
        )
        decision = outcome.decision
        markdown = (
            f"{title}Model `{MODEL_NAME}` version {outcome.version} (alias `{CHALLENGER}`), data fingerprint "
            f"`{dataset.fingerprint()}`; accuracies are on this run's held-out test rows "
            f"({len(labels)} rows), through the registered pyfuncs.\n\n{table}"
        )
        headline = (
            f"version {outcome.version} is the new `{CHAMPION}`"
            if decision.promote
            else f"version {outcome.version} registered as `{CHALLENGER}`; `{CHAMPION}` stays "
            f"{'at version ' + outcome.champion_version if outcome.champion_version else 'unset'}"
        )
    markdown += f"\n**Outcome: {headline}.**\n"
    files = {f"reports/{PROMOTION_FILE}": markdown.encode()}
    write_files(experiment, files)
    track(experiment, metrics={"promoted": decision.promote}, files=files)
    logger.info("promote: %s", headline)
    return MarkdownString(markdown)
