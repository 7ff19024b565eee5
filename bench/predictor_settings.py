"""Predictor settings on the nonlinear-label SCMs (issue 21): which setting limits the gap to the causal ceiling.

    .venv/bin/python bench/predictor_settings.py --settings base train.epochs=120 model.dropout=0.1
    .venv/bin/python bench/predictor_settings.py --settings "model.reads=label_parents+train.epochs=100" --jobs 16

Per SCM (default: the suite's `-xlabel-` SCMs, bench/structure_suite.py) and per setting, this model is trained on
the suite's stratified i.i.d. split in the seed configuration with the setting applied. The record keeps its i.i.d.
test accuracy (and its head's and readout's parts) and its training accuracy every 5 epochs: the gap between the
two says whether it learns too slowly or fits its 1,125-2,250 training rows too closely. Beside them, on the same
rows: the causal ceiling (the best of logistic regression, gradient boosting and an MLP on the label's true
parents), and the same three readers on the features the model may read and on the label's parents in the
model's lattice. A setting is `base` or `+`-joined `section.field=value` overrides of the configuration
(`model.dropout=0.1`, `train.lambdas.geometric=0`), validated before anything runs.

Prints ONE JSON line on stdout (progress on stderr) and writes the record under bench/out/ (never over an earlier
file); `--record` also writes it under bench/results/. Keys: `runs` (one per SCM and setting) and
`median_gap_to_ceiling` (points, per setting, over the SCMs that finished).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import pydantic
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TQDM_DISABLE", "1")

from bench.record import publish, record_paths  # noqa: E402
from bench.structure_baselines import prediction_baselines  # noqa: E402
from bench.structure_suite import SUITE, configure  # noqa: E402
from model.config import ModelConfig, SplitConfig, SyntheticDataConfig, TrainConfig  # noqa: E402
from model.data.batching import feature_tensor  # noqa: E402
from model.data.generator import make_synthetic_pancancer  # noqa: E402
from model.data.splits import split_dataset  # noqa: E402
from model.evaluation.baselines import causal_ceiling  # noqa: E402
from model.evaluation.latent_check import label_silhouette  # noqa: E402
from model.evaluation.lattice_check import learned_label_parents  # noqa: E402
from model.training.trainer import evaluate_model, train_model  # noqa: E402

logger = logging.getLogger("causal_lattice.bench.predictor_settings")

NONLINEAR_LABEL_CASES = [name for name in SUITE if "-xlabel-" in name]


def apply_setting(setting: str) -> tuple[ModelConfig, TrainConfig]:
    """The seed configuration with `setting`'s overrides applied and validated.

    Args:
        setting (str): `base`, or `+`-joined `model.<field>=<value>` / `train.<field>=<value>` /
            `train.<section>.<field>=<value>` overrides; a value is read as JSON where it parses, else as text.

    Returns:
        tuple[ModelConfig, TrainConfig]: the two configurations.

    Raises:
        ValueError: an override that names no field, or a value the configuration refuses.
    """
    model, train = configure(None, None, None)
    sections: dict[str, dict[str, Any]] = {"model": model.model_dump(), "train": train.model_dump()}
    for override in [] if setting == "base" else setting.split("+"):
        path, separator, text = override.partition("=")
        keys = path.split(".")
        if not separator or len(keys) < 2 or keys[0] not in sections:
            raise ValueError(
                f"{override!r}: write an override as model.<field>=<value> or train.<field>=<value>"
            )
        target = sections[keys[0]]
        for key in keys[1:-1]:
            if not isinstance(target.get(key), dict):
                raise ValueError(f"{override!r}: {key!r} is not a section of {keys[0]}")
            target = target[key]
        if keys[-1] not in target:
            raise ValueError(f"{override!r}: {keys[-1]!r} is not a field of {'.'.join(keys[:-1])}")
        try:
            target[keys[-1]] = json.loads(text)
        except ValueError:
            target[keys[-1]] = text
    try:
        return ModelConfig.model_validate(sections["model"]), TrainConfig.model_validate(sections["train"])
    except pydantic.ValidationError as error:
        raise ValueError(f"setting {setting!r}: {error}") from None


def run_setting(case: str, data_config: SyntheticDataConfig, setting: str, threads: int) -> dict[str, Any]:
    """One SCM trained i.i.d. under one setting: accuracies, training curve, ceiling and readable readers."""
    torch.set_num_threads(threads)
    started = time.perf_counter()
    model_config, train_config = apply_setting(setting)
    data = dataclasses.replace(make_synthetic_pancancer(data_config), name=case)
    iid = split_dataset(data, SplitConfig())
    trained = train_model(iid.train, model_config, train_config, None, None)
    metrics = evaluate_model(trained.model, iid.test)
    history = trained.history
    parents = learned_label_parents(trained.model) or []
    z = trained.model.eval().causal_encoder(feature_tensor(iid.test)).numpy()
    return {
        "case": case,
        "setting": setting,
        "n_train": len(iid.train.labels) if iid.train.labels is not None else 0,
        "iid_accuracy": metrics["accuracy"],
        "iid_accuracy_head_part": metrics["accuracy_head_part"],
        "iid_accuracy_readout_part": metrics["accuracy_readout_part"],
        "iid_latent_silhouette": label_silhouette(z, iid.test.labels),  # Exp-2's score on the test rows
        "train_accuracy_every_5_epochs": [record.train_accuracy for record in history[4::5]],
        "final_losses": history[-1].loss,
        "causal_ceiling_iid": causal_ceiling(iid.train, iid.test),
        "baselines_iid_readable": prediction_baselines(iid, trained.model.readable_features()),
        "lattice_label_parents": parents,
        # The same readers on the lattice's own parent set: what a reader that took the lattice's parents as
        # hard feature selection could reach (the ceiling reads the true parents).
        "baselines_iid_lattice_label_parents": prediction_baselines(iid, parents) if parents else None,
        "wall_s": time.perf_counter() - started,
    }


def median_gaps(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Per setting, the median over SCMs of the causal ceiling minus the model's i.i.d. accuracy, in points."""
    gaps: dict[str, list[float]] = {}
    for run in runs:
        if run.get("causal_ceiling_iid"):
            gap = 100 * (run["causal_ceiling_iid"]["accuracy"] - run["iid_accuracy"])
            gaps.setdefault(run["setting"], []).append(gap)
    return {setting: round(statistics.median(values), 2) for setting, values in gaps.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(NONLINEAR_LABEL_CASES), help="comma-separated suite SCMs")
    parser.add_argument("--settings", nargs="+", default=["base"], help="settings to compare (see above)")
    parser.add_argument("--jobs", type=int, default=1, help="trainings run in parallel processes")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per training")
    parser.add_argument("--out", type=Path, help="where to write the record (default bench/out/)")
    parser.add_argument("--record", action="store_true", help="also write the record under bench/results/")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
    if args.jobs < 1 or args.threads < 1:
        parser.error("--jobs and --threads take a count of at least 1")
    cases = args.cases.split(",")
    unknown = sorted(set(cases) - set(SUITE))
    if unknown:
        parser.error(f"unknown cases {unknown}; choose from {', '.join(SUITE)}")
    for setting in args.settings:
        try:
            apply_setting(setting)
        except ValueError as error:
            parser.error(str(error))
    runs = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [
            pool.submit(run_setting, case, SUITE[case], s, args.threads)
            for s in args.settings
            for case in cases
        ]
        for future in as_completed(futures):
            run = future.result()
            logger.info(
                "%s %s: i.i.d. %.3f, silhouette of z %.3f",
                run["case"],
                run["setting"],
                run["iid_accuracy"],
                run["iid_latent_silhouette"],
            )
            runs.append(run)
    runs.sort(key=lambda run: (args.settings.index(run["setting"]), cases.index(run["case"])))
    record = {"runs": runs, "median_gap_to_ceiling": median_gaps(runs)}
    publish(record, record_paths("predictor_settings_cpu.json", args.out, args.record), logger)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
