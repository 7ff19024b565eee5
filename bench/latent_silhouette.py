"""Benchmark (issue 21, Exp-2): what silhouette of z by label a representation can reach on the data.

    python bench/latent_silhouette.py [--config zenml_config.yaml] [--suite] [--out bench/out/latent_silhouette.json]

Exp-2 scores z by the silhouette of its points grouped by label. The label is a noisy draw from P(label | causes),
so how far apart the classes can lie depends on the representation's geometry as well as on what it knows. For
the run configuration's synthetic data (and with `--suite` the structure suite's SCMs whose label has a nonlinear
term) this prints the silhouette by label of two one-dimensional representations that know everything a reader
of the label's causes can know: the true logit (evidence on a linear scale, as a linear head reads z) and the
true probability (the same, saturated), with the Bayes accuracy. For the run configuration it also trains the
main model on its i.i.d. split and scores its z, its own logit and its own probability on the test rows, the way
Exp-2 does (docs/science.md, "Issue 21").
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.record import publish, record_paths  # noqa: E402
from bench.structure_suite import SUITE  # noqa: E402
from model.config import ExperimentConfig, SyntheticDataConfig, parse_experiment  # noqa: E402
from model.data.batching import feature_tensor  # noqa: E402
from model.data.generator import sample_with_label_logits  # noqa: E402
from model.data.splits import split_dataset  # noqa: E402
from model.data.tables import Dataset  # noqa: E402
from model.errors import ConfigError  # noqa: E402
from model.evaluation.latent_check import label_silhouette  # noqa: E402
from model.training.trainer import evaluate_model, train_model  # noqa: E402

log = logging.getLogger("latent_silhouette")


def oracle_silhouettes(labels: np.ndarray, logit: np.ndarray) -> dict[str, float]:
    """Silhouette by label of the true logit and the true probability, and the Bayes accuracy, on every row.

    Args:
        labels (np.ndarray): the rows' labels, shape (n,).
        logit (np.ndarray): their true logits (`sample_with_label_logits`), shape (n,).

    Returns:
        dict[str, float]: `true_logit`, `true_probability` and `bayes_accuracy`.
    """
    probability = 1.0 / (1.0 + np.exp(-logit))
    return {
        "true_logit": label_silhouette(logit, labels),
        "true_probability": label_silhouette(probability, labels),
        "bayes_accuracy": float(np.maximum(probability, 1.0 - probability).mean()),
    }


def model_silhouettes(experiment: ExperimentConfig, data: Dataset) -> dict[str, Any]:
    """Train the run configuration's main model on its i.i.d. split; silhouettes of its z, logit and probability.

    Args:
        experiment (ExperimentConfig): the run configuration.
        data (Dataset): its data.

    Returns:
        dict[str, Any]: `z`, `model_logit`, `model_probability` (silhouettes on the test rows), the share of
        z's variance along its first principal component, `accuracy` and the training's `seconds`.
    """
    split = split_dataset(data, experiment.split)
    started = time.perf_counter()
    fit = train_model(split.train, experiment.model, experiment.train, None, None)
    model = fit.model.eval()
    x = feature_tensor(split.test)
    with torch.no_grad():
        z = model.causal_encoder(x)
        logits = model(x).logits
    if logits is None:
        raise ValueError("the model has no head: the data has no label")
    margin = (logits[:, 1] - logits[:, 0]).numpy()
    labels = split.test.labels
    spread = torch.linalg.svdvals(z - z.mean(dim=0)).square()
    return {
        "z": label_silhouette(z.numpy(), labels),
        "z_first_component_share": float(spread[0] / spread.sum()),
        "model_logit": label_silhouette(margin, labels),
        "model_probability": label_silhouette(1.0 / (1.0 + np.exp(-margin)), labels),
        "accuracy": float(evaluate_model(model, split.test)["accuracy"]),
        "seconds": time.perf_counter() - started,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "zenml_config.yaml")
    parser.add_argument("--suite", action="store_true", help="also the suite's nonlinear-label SCMs")
    parser.add_argument("--out", type=Path, help="record path (default bench/out/latent_silhouette.json)")
    parser.add_argument("--record", action="store_true", help="also write the record under bench/results/")
    args = parser.parse_args(argv)
    if not args.config.is_file():
        parser.error(f"no run configuration at {args.config}: pass --config with a zenml_config.yaml")
    try:
        experiment = parse_experiment(yaml.safe_load(args.config.read_text())["parameters"]["experiment"])
    except (ConfigError, KeyError, TypeError, yaml.YAMLError) as error:
        parser.error(
            f"{args.config} is not a run configuration ({error}): pass --config with a zenml_config.yaml"
        )
    if not isinstance(experiment.data, SyntheticDataConfig):
        parser.error(
            f"{args.config} reads a table: the true logit needs synthetic data (data.kind: synthetic)"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)
    log.info("training the main model of %s", args.config)
    data, logit = sample_with_label_logits(experiment.data)
    record: dict[str, Any] = {
        "command": "python bench/latent_silhouette.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "config": {
            "path": str(args.config),
            "oracle": oracle_silhouettes(data.labels, logit),
            "model": model_silhouettes(experiment, data),
        },
    }
    if args.suite:
        record["suite"] = {}
        for name, scm in SUITE.items():
            if scm.label_nonlinearity != "none":
                scm_data, scm_logit = sample_with_label_logits(scm)
                record["suite"][name] = oracle_silhouettes(scm_data.labels, scm_logit)
    publish(record, record_paths("latent_silhouette.json", args.out, args.record), log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
