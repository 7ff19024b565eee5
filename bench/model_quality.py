"""Model-quality benchmark: train the causal lattice transformer once and score it against baselines.

Default: the embedded synthetic pan-cancer data (`ExperimentConfig().data`, default split) with the seed's
configuration (`ModelConfig()`, `TrainConfig()`: seed 42, batch 64, 50 epochs, lr 1e-4, lattice_lr 1e-2).

    .venv/bin/python bench/model_quality.py                       # seed configuration
    .venv/bin/python bench/model_quality.py --epochs 3            # quick check
    .venv/bin/python bench/model_quality.py --config zenml_config.yaml

Prints ONE JSON line on stdout (progress goes to stderr) and writes the same record to `--out`
(default bench/out/model_quality.json; an existing file is never overwritten: a timestamped name is used).

Keys: accuracy / gated_accuracy (test accuracy with real block skipping), dense_accuracy (every block on),
baseline_accuracy (sklearn LogisticRegression on the same standardised split), edge_auroc / shd / precision /
recall (learned lattice vs the true DAG at the model's lattice_threshold), kl_causal, laplacian,
utility_entropy, flops_reduction (1 - gated/dense forward FLOPs on the test set, FlopCounterMode),
logo_accuracy / logo_baseline_accuracy (leave-one-group-out: train on the other cohorts, test on the held-out
one, mean over cohorts; per-cohort numbers under `logo`), wall_s, config.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from model.config import ExperimentConfig, ModelConfig, TrainConfig
from model.data import GROUPS, Dataset, leave_one_group_out, load_dataset, split_dataset
from model.metrics import forward_flops, structure_recovery
from model.run_config import read_run_config
from model.trainer import EpochRecord, evaluate_model, train_model

DEFAULT_OUT = Path("bench/out/model_quality.json")
logger = logging.getLogger("causal_lattice.bench")


def _finite_or_none(value: Any) -> Any:
    """JSON has no NaN/Infinity: report them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value


def _progress(tag: str):
    def report(record: EpochRecord, total: int) -> None:
        accuracy = "" if record.train_accuracy is None else f" acc={record.train_accuracy:.3f}"
        logger.info(
            "[%s] epoch %d/%d loss=%.4f%s util=%s (%.1fs)",
            tag,
            record.epoch,
            total,
            record.loss["total"],
            accuracy,
            "/".join(f"{u:.2f}" for u in record.utility_per_block),
            record.seconds,
        )

    return report


def baseline_accuracy(train: Dataset, test: Dataset) -> float | None:
    """LogisticRegression on the same standardised features and split."""
    if train.labels is None or test.labels is None:
        return None
    classifier = LogisticRegression(max_iter=2000, random_state=0)
    classifier.fit(train.features, train.labels)
    return float(classifier.score(test.features, test.labels))


def _inference_ms(model: torch.nn.Module, x: torch.Tensor, dense: bool, repeats: int = 5) -> float:
    """Best-of-n wall-clock time of one eval forward pass over `x`."""
    model.eval()
    best = math.inf
    with torch.no_grad():
        model(x, dense=dense)  # warm-up
        for _ in range(repeats):
            started = time.perf_counter()
            model(x, dense=dense)
            best = min(best, time.perf_counter() - started)
    return 1000 * best


def _cohorts(dataset: Dataset) -> list[str]:
    if dataset.groups is None:
        return []
    present = {str(g) for g in dataset.groups}
    return [g for g in GROUPS if g in present] + sorted(present - set(GROUPS))


def run(experiment: ExperimentConfig, model_config: ModelConfig, train_config: TrainConfig) -> dict[str, Any]:
    started = time.perf_counter()
    dataset = load_dataset(experiment.data, experiment.split.min_group_size)
    split = split_dataset(dataset, experiment.split)
    logger.info(
        "data %s: %d train / %d test rows, %d features; training %d epochs",
        dataset.name,
        split.train.features.shape[0],
        split.test.features.shape[0],
        dataset.n_features,
        train_config.epochs,
    )
    result = train_model(split.train, model_config, train_config, _progress("main"))
    model = result.model
    gated = evaluate_model(model, split.test)
    dense = evaluate_model(model, split.test, dense=True)
    x_test = torch.from_numpy(np.ascontiguousarray(split.test.features))
    # Mean utility per block on the test set only (the layer's running mean also holds every training pass).
    model.meta_utility_layer.reset_utility()
    with torch.no_grad():
        model(x_test)
    test_utility = [float(u) for u in model.meta_utility_layer.get_utility()]
    gated_flops = forward_flops(model, x_test, dense=False)
    dense_flops = forward_flops(model, x_test, dense=True)

    record: dict[str, Any] = {
        "accuracy": gated.get("accuracy"),
        "baseline_accuracy": baseline_accuracy(split.train, split.test),
        "edge_auroc": None,
        "shd": None,
        "kl_causal": gated["kl_causal"],
        "laplacian": gated["laplacian"],
        "utility_entropy": gated["utility_entropy"],
        "flops_reduction": 1.0 - gated_flops / dense_flops,
        "gated_accuracy": gated.get("accuracy"),
        "dense_accuracy": dense.get("accuracy"),
        "logo_accuracy": None,
        "logo_baseline_accuracy": None,
    }
    true_graph = dataset.true_graph()
    if true_graph is not None:
        recovery = structure_recovery(
            model.lattice_encoder.adjacency().detach().numpy(),
            model.feature_names,
            true_graph,
            model.config.lattice_threshold,
        )
        record.update(
            edge_auroc=recovery.edge_auroc,
            shd=recovery.shd,
            precision=recovery.precision,
            recall=recovery.recall,
            true_edges=true_graph.number_of_edges(),
            learned_edges=model.lattice_encoder.get_graph().number_of_edges(),
        )
    record.update(
        gated_flops=gated_flops,
        dense_flops=dense_flops,
        gate_on_share=gated["gate_on_share"],
        utility_per_block=test_utility,
        gated_inference_ms=_inference_ms(model, x_test, dense=False),
        dense_inference_ms=_inference_ms(model, x_test, dense=True),
        auroc=gated.get("auroc"),
        f1=gated.get("f1"),
        reconstruction_mse=gated["reconstruction_mse"],
        train_accuracy=result.history[-1].train_accuracy,
        final_loss=result.history[-1].loss["total"],
    )

    logo: dict[str, dict[str, Any]] = {}
    if dataset.labels is not None:
        for group in _cohorts(dataset):
            held = leave_one_group_out(dataset, group)
            logger.info("leave-one-group-out: held out %s (%d test rows)", group, held.test.features.shape[0])
            trained = train_model(held.train, model_config, train_config, _progress(f"logo:{group}"))
            metrics = evaluate_model(trained.model, held.test)
            dense_metrics = evaluate_model(trained.model, held.test, dense=True)
            logo[group] = {
                "accuracy": metrics.get("accuracy"),
                "dense_accuracy": dense_metrics.get("accuracy"),
                "baseline_accuracy": baseline_accuracy(held.train, held.test),
                "n_train": int(held.train.features.shape[0]),
                "n_test": int(held.test.features.shape[0]),
            }
    if logo:
        record["logo_accuracy"] = float(np.mean([v["accuracy"] for v in logo.values()]))
        record["logo_baseline_accuracy"] = float(np.mean([v["baseline_accuracy"] for v in logo.values()]))
    record["logo"] = logo
    record["wall_s"] = time.perf_counter() - started
    return record


def _unique_path(path: Path) -> Path:
    if not path.exists():
        return path
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.stem}-{stamp}{path.suffix}")
    counter = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{stamp}-{counter}{path.suffix}")
        counter += 1
    return candidate


def write_result(record: dict[str, Any], out: Path) -> Path:
    """Write `record` as JSON to `out`, or to a timestamped sibling if `out` already exists."""
    out.parent.mkdir(parents=True, exist_ok=True)
    while True:
        target = _unique_path(out)
        try:
            with target.open("x") as handle:  # exclusive create: never clobber a concurrent writer's file
                json.dump(record, handle, indent=2)
                handle.write("\n")
            return target
        except FileExistsError:
            continue


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, help="zenml_config-style YAML (parameters.experiment)")
    parser.add_argument("--epochs", type=int, help="override train.epochs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"result file (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs must be at least 1")

    experiment = read_run_config(args.config).require_experiment() if args.config else ExperimentConfig()
    train_config = experiment.train
    if args.epochs is not None:
        train_config = train_config.model_copy(update={"epochs": args.epochs})
    record = run(experiment, experiment.model, train_config)
    record["config"] = {
        "profile": experiment.profile,
        "source": str(args.config) if args.config else "defaults (ExperimentConfig())",
        "epochs": train_config.epochs,
        "epochs_overridden": args.epochs is not None,
        "data": experiment.data.model_dump(mode="json"),
        "split": experiment.split.model_dump(mode="json"),
        "model": experiment.model.model_dump(mode="json"),
        "train": train_config.model_dump(mode="json"),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    record = _finite_or_none(record)
    written = write_result(record, args.out)
    logger.info("wrote %s", written)
    print(json.dumps(record, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
