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
from model.config import SplitConfig, SyntheticDataConfig  # noqa: E402
from model.data.generator import sample_with_label_logits  # noqa: E402
from model.data.splits import group_split  # noqa: E402
from model.errors import ConfigError, DataValidationError  # noqa: E402
from model.evaluation.baselines import causal_ceiling  # noqa: E402
from model.evaluation.cohort_subsets import accuracy_spread  # noqa: E402
from model.run_config import read_run_config  # noqa: E402

log = logging.getLogger("cohort_gap_noise")


def bayes_cohort_accuracy(
    data_config: SyntheticDataConfig, split: SplitConfig, cohorts: list[str]
) -> dict[str, float]:
    """The Bayes classifier's accuracy on each cohort's test rows (the split VI.3's retraining tests on).

    Args:
        data_config (SyntheticDataConfig): the generator's configuration, its seed included.
        split (SplitConfig): the run's split (test fraction and seed).
        cohorts (list[str]): the cohorts VI.3 retrains on (`evaluation.subsets`).

    Returns:
        dict[str, float]: cohort -> the share of its test rows whose label the true logit's sign predicts.
    """
    data, logit = sample_with_label_logits(data_config)
    classes = sorted(set(data.labels.tolist())) if data.labels is not None else []
    truth = np.array([classes.index(label) for label in data.labels]) if data.labels is not None else None
    predicted = (logit > 0).astype(int)
    accuracy = {}
    for cohort in cohorts:
        rows = group_split(data, cohort, split).test_rows
        accuracy[cohort] = (
            float((predicted[rows] == truth[rows]).mean()) if truth is not None else float("nan")
        )
    return accuracy


def cohort_ceilings(
    data_config: SyntheticDataConfig, split: SplitConfig, cohorts: list[str]
) -> dict[str, float]:
    """The causal ceiling on each cohort's test rows, trained on its training rows (what VI.3 reports).

    Args:
        data_config (SyntheticDataConfig): the generator's configuration.
        split (SplitConfig): the run's split.
        cohorts (list[str]): the cohorts VI.3 retrains on.

    Returns:
        dict[str, float]: cohort -> the best true-parent reader's test accuracy.
    """
    data, _ = sample_with_label_logits(data_config)
    ceilings = {}
    for cohort in cohorts:
        part = group_split(data, cohort, split)
        best = causal_ceiling(part.train, part.test)
        if best is not None and best["accuracy"] is not None:
            ceilings[cohort] = best["accuracy"]
    return ceilings


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
    data, split, cohorts = experiment.data, experiment.split, list(experiment.evaluation.subsets)
    for seed in seeds:
        accuracy = bayes_cohort_accuracy(data.model_copy(update={"seed": seed}), split, cohorts)
        per_seed.append({"data_seed": seed, "accuracy": accuracy, "gap": accuracy_spread(accuracy)})
        log.info("data seed %d: Bayes accuracy per cohort %s, gap %.3f", seed, accuracy, per_seed[-1]["gap"])
    gaps = np.array([run["gap"] for run in per_seed])
    ceilings = cohort_ceilings(data, split, cohorts)
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
