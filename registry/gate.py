"""`python -m registry.gate`: the promotion gate as a CI/CD command.

Reads the model version that carries the `challenger` alias of `causal-lattice-transformer` and decides
from its tags (each gate's value/threshold/verdict and the champion-vs-challenger accuracies the promote step
measured on the same held-out data) with `registry.decision.decide_promotion`:

* exit 0: the challenger may be promoted (or already is the champion); `--promote` also moves `champion`;
* exit 1: it may not; the failing gates and every other reason are printed;
* exit 2: the gate could not be evaluated (no registry reachable, no challenger).

MLflow is found at `--tracking-uri`, else `MLFLOW_TRACKING_URI`, else the active ZenML stack's MLflow tracker
(what `scripts/setup_local_stack.py` registered, with its credentials).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping

from registry import CHALLENGER, CHAMPION, MODEL_NAME
from registry.decision import (
    ACCURACY_CHALLENGER_TAG,
    ACCURACY_CHAMPION_TAG,
    CHAMPION_VERSION_TAG,
    PromotionDecision,
    accuracy_from_tag,
    decide_promotion,
    gates_from_tags,
    promotion_table,
)
from registry.local_stack import SetupError, check_reachable, is_remote


class GateError(RuntimeError):
    """The gate cannot be evaluated; the message says what is missing."""


def resolve_tracking_uri(cli_uri: str | None, environment: Mapping[str, str]) -> str:
    if cli_uri or environment.get("MLFLOW_TRACKING_URI"):
        return cli_uri or environment["MLFLOW_TRACKING_URI"]
    from registry.stack import active_mlflow_tracker

    tracker = active_mlflow_tracker()
    if tracker is None:
        raise GateError(
            "no MLflow to read: pass --tracking-uri, set MLFLOW_TRACKING_URI, or activate a ZenML stack with "
            "an MLflow experiment tracker (python scripts/setup_local_stack.py)"
        )
    tracker.configure_mlflow()  # the tracker's credentials, as the pipeline used them
    return tracker.get_tracking_uri()


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", help="MLflow tracking/registry URI (default: see module docstring)")
    parser.add_argument("--model", default=MODEL_NAME, help=f"registered model name (default: {MODEL_NAME})")
    parser.add_argument(
        "--promote", action="store_true", help=f"move {CHAMPION!r} to the challenger if it passes"
    )
    args = parser.parse_args(argv)
    try:
        uri = resolve_tracking_uri(args.tracking_uri, os.environ)
        if is_remote(uri):
            check_reachable(uri)
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        version, decision, table = evaluate_challenger(client, args.model)
    except (GateError, SetupError) as error:
        print(f"gate: error: {error}", file=sys.stderr)
        return 2
    print(f"{args.model} version {version} ({CHALLENGER}) at {uri}\n\n{table}")
    if not decision.promote:
        failing = ", ".join(decision.failing_gates) or "none"
        print(f"gate: FAIL: version {version} may not be promoted; failing gates: {failing}", file=sys.stderr)
        for reason in decision.reasons:
            print(f"gate:   {reason}", file=sys.stderr)
        return 1
    if args.promote:
        client.set_registered_model_alias(args.model, CHAMPION, version)
        print(f"gate: version {version} is now {CHAMPION!r}")
    print(f"gate: PASS: version {version} may be promoted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
