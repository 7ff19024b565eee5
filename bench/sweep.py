"""Hyper-parameter sweep used to choose (and document) defaults: one JSON line per setting.

    python bench/sweep.py --data-seed 11 --grid '{"train.sparsity": [0.02, 0.1], "train.acyclicity": [1, 10]}'

Sweeps run on a synthetic dataset drawn with a different seed from the benchmark's (data seed 7), so a default
chosen here is not tuned on the data it is later reported on. Each setting trains in its own process (settings
run in parallel, `--workers`); `--logo` adds leave-one-group-out accuracy (three more trainings per setting).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

import numpy as np


def _evaluate(args: tuple[dict[str, Any], int, bool]) -> dict[str, Any]:
    import torch

    from model.config import ExperimentConfig, ModelConfig, SyntheticDataConfig, TrainConfig
    from model.data import GROUPS, leave_one_group_out, load_dataset, split_dataset
    from model.metrics import forward_flops, structure_recovery
    from model.trainer import evaluate_model, train_model

    overrides, data_seed, logo = args
    sections: dict[str, dict[str, Any]] = {"model": {}, "train": {}}
    for key, value in overrides.items():
        section, name = key.split(".", 1)
        sections[section][name] = value
    model_config = ModelConfig(**sections["model"])
    train_config = TrainConfig(**sections["train"])
    split_config = ExperimentConfig().split
    data = load_dataset(SyntheticDataConfig(seed=data_seed), split_config.min_group_size)
    split = split_dataset(data, split_config)
    trained = train_model(split.train, model_config, train_config, progress=None).model
    metrics = evaluate_model(trained, split.test)
    recovery = structure_recovery(
        trained.lattice_encoder.adjacency().detach().numpy(),
        data.feature_names,
        data.true_graph(),
        model_config.lattice_threshold,
    )
    x = torch.from_numpy(split.test.features)
    result: dict[str, Any] = {
        "overrides": overrides,
        "accuracy": metrics["accuracy"],
        "edge_auroc": recovery.edge_auroc,
        "shd": recovery.shd,
        "flops_reduction": 1 - forward_flops(trained, x, dense=False) / forward_flops(trained, x, dense=True),
    }
    if logo:
        accuracies = []
        for group in GROUPS:
            held_out = leave_one_group_out(data, group)
            model = train_model(held_out.train, model_config, train_config, progress=None).model
            accuracies.append(evaluate_model(model, held_out.test)["accuracy"])
        result["logo_accuracy"] = float(np.mean(accuracies))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", required=True, help='JSON: {"section.key": [values, ...]}')
    parser.add_argument("--data-seed", type=int, default=11)
    parser.add_argument("--logo", action="store_true")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    grid = json.loads(args.grid)
    settings = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    jobs = [(setting, args.data_seed, args.logo) for setting in settings]
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        for result in pool.map(_evaluate, jobs):
            print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
