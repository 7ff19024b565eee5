"""The promotion gate on the registry, for CI/CD (`causal-lattice gate`).

Reads the model version that carries the `challenger` alias of `causal-lattice-transformer` and decides
from its tags (each gate's value/threshold/verdict and the champion-vs-challenger accuracies the promote step
measured on the same held-out data) with `model.gates.decision.decide_promotion`.
"""

from __future__ import annotations

from model.gates.decision import (
    ACCURACY_CHALLENGER_TAG,
    ACCURACY_CHAMPION_TAG,
    CHAMPION_VERSION_TAG,
    PromotionDecision,
    accuracy_from_tag,
    decide_promotion,
    gates_from_tags,
    promotion_table,
)
from registry import CHALLENGER, CHAMPION


class GateError(RuntimeError):
    """The gate cannot be evaluated; the message says what is missing."""


def evaluate_challenger(client: object, model_name: str) -> tuple[str, PromotionDecision, str]:
    """(challenger version, decision, Markdown table) from the challenger's tags and the current champion."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    assert isinstance(client, MlflowClient)
    try:
        challenger = client.get_model_version_by_alias(model_name, CHALLENGER)
    except MlflowException as error:
        raise GateError(
            f"no version of {model_name!r} has the alias {CHALLENGER!r}: {error.message}"
        ) from None
    try:
        champion_version: str | None = str(client.get_model_version_by_alias(model_name, CHAMPION).version)
    except MlflowException:
        champion_version = None
    tags = dict(challenger.tags)
    version = str(challenger.version)
    gates = gates_from_tags(tags)
    challenger_accuracy = accuracy_from_tag(tags, ACCURACY_CHALLENGER_TAG)
    champion_accuracy = accuracy_from_tag(tags, ACCURACY_CHAMPION_TAG)
    note = None
    if champion_version == version:
        decision = PromotionDecision(promote=True, reasons=[f"version {version} already is the {CHAMPION}"])
    else:
        compared_with = tags.get(CHAMPION_VERSION_TAG) or None
        if champion_version is not None and compared_with != champion_version:
            champion_accuracy = float("nan")
            note = (
                f"the current champion is version {champion_version}, the challenger was compared with "
                + (f"version {compared_with}" if compared_with else "no champion")
            )
        decision = decide_promotion(
            gates,
            float("nan") if challenger_accuracy is None else challenger_accuracy,
            champion_accuracy,
            note,
        )
    table = promotion_table(
        gates,
        f"version {version}",
        float("nan") if challenger_accuracy is None else challenger_accuracy,
        f"version {champion_version}" if champion_version else None,
        champion_accuracy,
        decision,
    )
    return version, decision, table
