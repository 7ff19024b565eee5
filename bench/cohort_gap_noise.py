"""Benchmark (issue 21, seed VI.3): how far apart the cohorts' test rows are for a perfect reader of the label.

    python bench/cohort_gap_noise.py [--config zenml_config.yaml] [--data-seeds 40] [--out PATH] [--record]

The promotion gate `subset_accuracy_gap` asks that the per-cohort retrainings' test accuracies lie within
`gates.max_subset_accuracy_gap` of each other. Each cohort's test part is a few hundred rows at most, and the label
is a noisy draw from P(label | causes), so even the Bayes classifier (the true logit's sign, which no model can
beat) has a per-cohort gap on those rows. For the run configuration's synthetic data this prints that gap on the
configuration's own data and on the same generator under other data seeds (how often a perfect reader passes the
gate), and the causal ceiling per cohort (the best of logistic regression, gradient boosting and an MLP on the
label's true parents, trained on each cohort's training rows), as the pipeline's VI.3 reports it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.record import publish, record_paths  # noqa: E402
from model.config import SyntheticDataConfig  # noqa: E402
from model.data.generator import sample_with_label_logits  # noqa: E402
from model.data.splits import DataSplit, group_split  # noqa: E402
from model.errors import ConfigError, DataValidationError  # noqa: E402
from model.evaluation.cohort_subsets import accuracy_spread, cohort_ceilings  # noqa: E402
from model.run_config import read_run_config  # noqa: E402

log = logging.getLogger("cohort_gap_noise")


def bayes_cohort_accuracy(
    labels: np.ndarray, logit: np.ndarray, parts: dict[str, DataSplit]
) -> dict[str, float]:
    """The Bayes classifier's accuracy on each cohort's test rows (the split VI.3's retraining tests on).

    Args:
        labels (np.ndarray): every row's label, shape (n,).
        logit (np.ndarray): every row's true logit (`sample_with_label_logits`), shape (n,).
        parts (dict[str, DataSplit]): cohort -> its within-cohort split (`group_split`).

    Returns:
        dict[str, float]: cohort -> the share of its test rows whose label the true logit's sign predicts.
    """
    classes = sorted(set(labels.tolist()))
    truth = np.array([classes.index(label) for label in labels])
    predicted = (logit > 0).astype(int)
    return {
        cohort: float((predicted[part.test_rows] == truth[part.test_rows]).mean())
        for cohort, part in parts.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "zenml_config.yaml")
    parser.add_argument("--data-seeds", type=int, default=40, help="data seeds to draw (the config's first)")
    parser.add_argument("--out", type=Path, help="record path (default bench/out/cohort_gap_noise.json)")
    parser.add_argument("--record", action="store_true", help="also write the record under bench/results/")
    args = parser.parse_args(argv)
    if args.data_seeds < 1:
        parser.error(f"--data-seeds {args.data_seeds}: draw at least one data set")
    try:
        experiment = read_run_config(args.config).require_experiment()
    except (ConfigError, DataValidationError) as error:
        parser.error(f"{error}: pass --config with a zenml_config.yaml")
    if not isinstance(experiment.data, SyntheticDataConfig):
        parser.error(
            f"{args.config} reads a table: the true logit needs synthetic data (data.kind: synthetic)"
        )
    if not experiment.evaluation.subsets:
        parser.error(
            f"{args.config} names no cohorts (evaluation.subsets): there is no cohort gap to measure"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    threshold = experiment.gates.max_subset_accuracy_gap
    first = experiment.data.seed
    seeds = [first] + [seed for seed in range(args.data_seeds + 1) if seed != first][: args.data_seeds - 1]
    per_seed = []
    ceilings: dict[str, float] = {}
    split, cohorts = experiment.split, list(experiment.evaluation.subsets)
    for seed in seeds:
        data, logit = sample_with_label_logits(experiment.data.model_copy(update={"seed": seed}))
        if data.labels is None:
            parser.error(f"{args.config}: the synthetic data has no label column, so there is no accuracy")
        parts = {cohort: group_split(data, cohort, split) for cohort in cohorts}
        accuracy = bayes_cohort_accuracy(data.labels, logit, parts)
        per_seed.append({"data_seed": seed, "accuracy": accuracy, "gap": accuracy_spread(accuracy)})
        log.info("data seed %d: Bayes accuracy per cohort %s, gap %.3f", seed, accuracy, per_seed[-1]["gap"])
        if seed == first:
            ceilings = cohort_ceilings(parts)
    gaps = np.array([run["gap"] for run in per_seed])
    record: dict[str, Any] = {
        "command": "python bench/cohort_gap_noise.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "config": str(args.config),
        "max_subset_accuracy_gap": threshold,
        "bayes_config_data": per_seed[0],
        "bayes_gap_median": float(np.median(gaps)),
        "bayes_share_passing": float((gaps < threshold).mean()),
        "bayes_per_data_seed": per_seed,
        "ceiling_config_data": {"accuracy": ceilings, "gap": accuracy_spread(ceilings)},
    }
    log.info(
        "%d data seeds: a perfect reader's per-cohort gap has median %.3f and passes the %.2f gate in %.0f%% of them",
        len(gaps),
        record["bayes_gap_median"],
        threshold,
        100 * record["bayes_share_passing"],
    )
    publish(record, record_paths("cohort_gap_noise.json", args.out, args.record), log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
