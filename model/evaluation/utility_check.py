"""Exp-4 of the seed's protocol: what the block router saves (FLOPs and time of routed against dense passes, and the accuracy of each)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from model.artifacts import EpochRecord, ProtocolOutcome
from model.data.batching import feature_tensor
from model.data.tables import Dataset
from model.evaluation import plots
from model.evaluation.graph_metrics import (
    forward_flops,
)
from model.nn.transformer import CausalLatticeTransformer
from model.training.trainer import evaluate_model


def _timed_forward(model: CausalLatticeTransformer, x: torch.Tensor, dense: bool, repeats: int = 5) -> float:
    with torch.no_grad():
        model(x, dense=dense)  # warm-up
        started = time.perf_counter()
        for _ in range(repeats):
            model(x, dense=dense)
    return (time.perf_counter() - started) / repeats


def check_utility(
    model: CausalLatticeTransformer, data: Dataset, history: list[EpochRecord]
) -> ProtocolOutcome:
    """Exp-4: utility per block over training, FLOPs and accuracy of routed vs dense inference."""
    x = feature_tensor(data)
    model.meta_utility_layer.reset_utility()
    routed = evaluate_model(model, data, dense=False)
    final_utility = model.meta_utility_layer.get_utility().numpy()
    dense = evaluate_model(model, data, dense=True)
    dense_flops, routed_flops = forward_flops(model, x, dense=True), forward_flops(model, x, dense=False)
    dense_s, routed_s = _timed_forward(model, x, True), _timed_forward(model, x, False)
    per_epoch = np.array([record.utility_per_block for record in history])
    metrics = {
        "dense_flops": dense_flops,
        "routed_flops": routed_flops,
        "flops_reduction": 1.0 - routed_flops / dense_flops,
        "dense_accuracy": dense.get("accuracy", float("nan")),
        "routed_accuracy": routed.get("accuracy", float("nan")),
        "dense_forward_s": dense_s,
        "routed_forward_s": routed_s,
        "wall_clock_speedup": dense_s / routed_s,
        "utility_entropy": routed["utility_entropy"],
        "utility_entropy_first_epoch": history[0].utility_entropy if history else float("nan"),
        "utility_per_block": [float(u) for u in final_utility],
    }
    log = pd.DataFrame(
        [
            {
                "mode": "dense",
                "flops": dense_flops,
                "accuracy": metrics["dense_accuracy"],
                "forward_s": dense_s,
                "n_samples": x.shape[0],
            },
            {
                "mode": "routed",
                "flops": routed_flops,
                "accuracy": metrics["routed_accuracy"],
                "forward_s": routed_s,
                "n_samples": x.shape[0],
            },
        ]
    )
    return ProtocolOutcome(
        metrics=metrics,
        files={
            "utility/utility_map.png": plots.utility_map(per_epoch, final_utility),
            "utility/flops_log.csv": log.to_csv(index=False).encode(),
            "utility/utility_per_epoch.csv": pd.DataFrame(
                per_epoch,
                columns=[f"block_{b}" for b in range(per_epoch.shape[1])],
                index=pd.RangeIndex(1, len(per_epoch) + 1, name="epoch"),
            )
            .to_csv()
            .encode(),
        },
    )
