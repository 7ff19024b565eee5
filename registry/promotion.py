"""Register a trained model in the MLflow model registry and run the promotion gate against the champion.

`register_and_decide` logs the model as a pyfunc (signature + input example), registers it as a new version of
`causal-lattice-transformer` with lineage and gate tags, points the `challenger` alias at it, evaluates the
current `champion` (if any) and the challenger through their pyfuncs on the same held-out data, decides with
`model.gates.decision.decide_promotion` and moves `champion` only when that says so. It uses the MLflow tracking
and registry URI that is configured (ZenML's experiment tracker configures it for the promote step).
"""

from __future__ import annotations

import logging
import math
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from model.artifacts import PromotionGate, TrainedModel
from model.gates.decision import (
    ACCURACY_CHALLENGER_TAG,
    ACCURACY_CHAMPION_TAG,
    CHAMPION_VERSION_TAG,
    DECISION_TAG,
    REASONS_TAG,
    PromotionDecision,
    decide_promotion,
    gate_tags,
)
from model.markup import markdown_text
from model.report.model_card import DESCRIPTION_CHARS
from registry import CHALLENGER, CHAMPION, MODEL_NAME
from registry.model_package import ENTRY_FILE, class_names_for, save_model_directory, stage_code
from registry.pyfunc import ARTIFACT_KEY, predict_probabilities

logger = logging.getLogger(__name__)
INPUT_EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class HeldOut:
    """The held-out test rows on their raw scale, with labels as class indices into `class_names`."""

    frame: pd.DataFrame
    labels: np.ndarray
    class_names: list[str]


@dataclass(frozen=True)
class PromotionOutcome:
    version: str
    champion_version: str | None
    challenger_accuracy: float
    champion_accuracy: float | None
    champion_note: str | None
    decision: PromotionDecision


def _requirements() -> list[str]:
    """Pinned requirements of the pyfunc (given explicitly: MLflow's inference would load the model twice)."""
    from importlib.metadata import PackageNotFoundError, version

    pins = []
    for package in (
        "mlflow",
        "torch",
        "torch-geometric",
        "safetensors",
        "numpy",
        "pandas",
        "pydantic",
        "networkx",
        "scipy",
        "torchmetrics",
    ):
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    return pins


def accuracy(probabilities: pd.DataFrame, held_out: HeldOut) -> float:
    """Share of rows whose most probable class (by column name) is the true class."""
    predicted = np.asarray(probabilities.columns)[np.argmax(probabilities.to_numpy(), axis=1)]
    truth = np.asarray(held_out.class_names)[held_out.labels]
    return float(np.mean(predicted.astype(str) == truth.astype(str)))


def log_model(trained: TrainedModel, held_out: HeldOut) -> Any:
    """Log the pyfunc (artifacts, code, signature, input example) in the active run; returns its ModelInfo."""
    class_names = class_names_for(trained, held_out.class_names)
    example = held_out.frame.iloc[:INPUT_EXAMPLE_ROWS].astype(np.float64)
    output = predict_probabilities(trained.model, trained.standardizer, class_names, example)
    with tempfile.TemporaryDirectory() as staging:
        artifacts_dir = save_model_directory(trained, held_out.class_names, Path(staging) / "weights")
        code_paths = stage_code(Path(staging) / "code")
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=str(ENTRY_FILE),
            artifacts={ARTIFACT_KEY: str(artifacts_dir)},
            code_paths=code_paths,
            signature=infer_signature(example, output),
            input_example=example,
            pip_requirements=_requirements(),
        )


def _champion(client: MlflowClient) -> Any | None:
    try:
        return client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    except MlflowException as error:
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def evaluate_registered(model_uri: str, held_out: HeldOut) -> tuple[float, str | None]:
    """Accuracy of a registered pyfunc on the held-out rows; NaN and why when it cannot take this data."""
    loaded = mlflow.pyfunc.load_model(model_uri)
    schema = loaded.metadata.get_input_schema()
    needed = schema.input_names() if schema is not None else list(held_out.frame.columns)
    missing = [name for name in needed if name not in held_out.frame.columns]
    if missing:
        return float("nan"), f"it needs feature columns {missing} that this data does not have"
    probabilities = loaded.predict(held_out.frame[needed].astype(np.float64))
    if set(map(str, probabilities.columns)) != set(held_out.class_names):
        return float("nan"), f"its classes {list(probabilities.columns)} differ from {held_out.class_names}"
    return accuracy(probabilities, held_out), None


def register_and_decide(
    trained: TrainedModel,
    gates: Sequence[PromotionGate],
    held_out: HeldOut,
    tags: Mapping[str, str],
    model_card: str = "",
) -> PromotionOutcome:
    """Log, register, tag, alias `challenger`, compare with `champion`, move `champion` if the gate allows.
    The version's description is `model_card` followed by the decision and its reasons."""
    client = MlflowClient()
    info = log_model(trained, held_out)
    registered = mlflow.register_model(info.model_uri, MODEL_NAME, tags={**tags, **gate_tags(gates)})
    version = str(registered.version)
    client.set_registered_model_alias(MODEL_NAME, CHALLENGER, version)
    logger.info("registered %s version %s (alias %s)", MODEL_NAME, version, CHALLENGER)

    challenger_accuracy, note = evaluate_registered(f"models:/{MODEL_NAME}/{version}", held_out)
    if note:
        raise RuntimeError(f"the newly registered version {version} cannot predict its own test data: {note}")
    champion = _champion(client)
    champion_version = str(champion.version) if champion is not None else None
    champion_accuracy: float | None = None
    champion_note = None
    if champion_version is not None:
        champion_accuracy, champion_note = evaluate_registered(f"models:/{MODEL_NAME}@{CHAMPION}", held_out)
    decision = decide_promotion(gates, challenger_accuracy, champion_accuracy, champion_note)

    outcome_tags = {
        ACCURACY_CHALLENGER_TAG: repr(challenger_accuracy),
        ACCURACY_CHAMPION_TAG: "" if champion_accuracy is None else repr(champion_accuracy),
        CHAMPION_VERSION_TAG: champion_version or "",
        DECISION_TAG: "promoted" if decision.promote else "kept champion",
        REASONS_TAG: "; ".join(decision.reasons)[:5000],
    }
    for key, value in outcome_tags.items():
        client.set_model_version_tag(MODEL_NAME, version, key, value)
    client.update_model_version(MODEL_NAME, version, description=describe(model_card, decision))
    if decision.promote:
        client.set_registered_model_alias(MODEL_NAME, CHAMPION, version)
        logger.info("%s version %s is the new %s", MODEL_NAME, version, CHAMPION)
    else:
        logger.info(
            "%s stays %s: %s",
            CHAMPION,
            f"version {champion_version}" if champion_version else "unset",
            "; ".join(decision.reasons),
        )
    return PromotionOutcome(
        version=version,
        champion_version=champion_version,
        challenger_accuracy=challenger_accuracy,
        champion_accuracy=None
        if champion_accuracy is None or math.isnan(champion_accuracy)
        else champion_accuracy,
        champion_note=champion_note,
        decision=decision,
    )


def describe(model_card: str, decision: PromotionDecision) -> str:
    """The model version's description: the card, then the promotion decision, within MLflow's column."""
    verdict = "promoted to `champion`" if decision.promote else "not promoted"
    text = f"{model_card.rstrip()}\n\n## Promotion\n\n**{verdict}**: {markdown_text('; '.join(decision.reasons))}\n"
    return text if len(text) <= DESCRIPTION_CHARS else text[: DESCRIPTION_CHARS - 1] + "…"


def source_commit() -> dict[str, str]:
    """`git.commit` (and `git.dirty`) of the code that ran, when it is a git checkout."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str | None:
        try:
            result = subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return result.stdout.strip() if result.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {}
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {"git.commit": commit, "git.dirty": "unknown" if dirty is None else str(bool(dirty)).lower()}
