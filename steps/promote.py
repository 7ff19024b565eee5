"""promote: register the main model in MLflow and move `champion` only when the SPEC §5 gates allow it.

The decision table (gates, champion vs challenger accuracy on this run's held-out data, decision) is written
to `results/<run>/reports/promotion.md`, referenced from a section appended to `reports/summary.md`, logged to
the run's MLflow parent run and returned as the `promotion` artifact. On a stack without an MLflow tracker the
model is not registered and the table says so.
"""

import logging
from typing import Annotated

from zenml import step
from zenml.types import MarkdownString

from model.config import ExperimentConfig
from model.data import Dataset, DataSplit
from model.gates import GateVerdict
from model.trainer import TrainedModel
from registry import CHALLENGER, CHAMPION, MODEL_NAME
from registry.decision import decide_promotion, promotion_table
from registry.tracking import active_run
from steps.results import run_directory, write_files
from steps.tracking import step_identity, track

logger = logging.getLogger(__name__)
PROMOTION_FILE = "reports/promotion.md"
SUMMARY_FILE = "reports/summary.md"


@step
def promote(
    trained_model: TrainedModel,
    gate_verdict: GateVerdict,
    dataset: Dataset,
    data_split: DataSplit,
    experiment: ExperimentConfig,
) -> Annotated[MarkdownString, "promotion"]:
    identity = step_identity()
    gates = gate_verdict.gates
    title = f"# Promotion gate: run `{identity.run_name}`\n\n"
    labels = data_split.test.labels
    if active_run() is None or labels is None or trained_model.model.n_classes == 0:
        why = (
            "the active ZenML stack has no MLflow experiment tracker / model registry "
            "(run `python scripts/setup_local_stack.py`)"
            if labels is not None
            else "the data has no label column, so there is no accuracy to compare"
        )
        accuracy = float(trained_model.test_metrics.get("accuracy", float("nan")))
        decision = decide_promotion(gates, accuracy, None)
        table = promotion_table(gates, "this run's model (not registered)", accuracy, None, None, decision)
        markdown = f"{title}Not registered: {why}.\n\nWhat the gate would decide:\n\n{table}"
        headline = "not registered (no MLflow registry on the stack)"
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
            "model.view": trained_model.view,
            "model.seed": str(trained_model.seed),
            **source_commit(),
        }
        outcome = register_and_decide(trained_model, gates, held_out, tags)
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
    write_files(experiment, {PROMOTION_FILE: markdown.encode()})
    summary = run_directory(experiment) / SUMMARY_FILE
    if summary.is_file():
        with summary.open("a") as handle:
            handle.write(
                f"\n## Promotion (MLflow registry)\n\n{headline}; see [promotion.md](promotion.md).\n"
            )
    files = {PROMOTION_FILE: markdown.encode()}
    if summary.is_file():
        files[SUMMARY_FILE] = summary.read_bytes()
    track(experiment, metrics={"promoted": decision.promote}, files=files)
    logger.info("promote: %s", headline)
    return MarkdownString(markdown)
