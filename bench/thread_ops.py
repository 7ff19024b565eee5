"""Which torch ops give different bits on different intra-op thread counts?

Runs the default run's numeric work (a training on the configured data and model, with a short structure phase
and few epochs, then evaluation and Exp-1..4's model calls) under a dispatch mode that executes every op twice
on the same inputs: once with `--threads A` intra-op threads and once with `--threads B`, and compares the
outputs bit for bit. Random ops (they draw from a generator) run once. Prints one JSON line: per differing op
its calls, how many differed, an example of the shapes and the largest absolute difference.

    OMP_NUM_THREADS=1 .venv/bin/python bench/thread_ops.py --threads 1 4
    MKL_CBWR=AUTO,STRICT .venv/bin/python bench/thread_ops.py --threads 1 4
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.data.sources import load_dataset
from model.data.splits import split_dataset
from model.evaluation.graph_metrics import forward_flops
from model.run_config import read_run_config
from model.training.metrics import kl_causal
from model.training.trainer import evaluate_model, train_model


def _clone(value: Any) -> Any:
    """A copy with the same storage layout (strides, offset): a strided view summed in another order would
    differ for reasons that have nothing to do with threads."""
    if not isinstance(value, torch.Tensor):
        return value
    copy = torch.empty(0, dtype=value.dtype, device=value.device)
    return copy.set_(value.untyped_storage().clone(), value.storage_offset(), value.size(), value.stride())


def _same(first: Any, second: Any) -> tuple[bool, float]:
    a, _ = tree_flatten(first)
    b, _ = tree_flatten(second)
    worst, same = 0.0, True
    for x, y in zip(a, b, strict=True):
        if not isinstance(x, torch.Tensor):
            same &= x == y
            continue
        if x.shape != y.shape or x.dtype != y.dtype:
            return False, float("inf")
        if x.is_floating_point():
            equal = x.detach().float().numpy().tobytes() == y.detach().float().numpy().tobytes()
            if not equal:
                same = False
                worst = max(worst, float((x.double() - y.double()).abs().nan_to_num(0).max()))
        elif not torch.equal(x, y):
            same, worst = False, float("inf")
    return same, worst


class ThreadDiff(TorchDispatchMode):
    """Run each op with `first` and with `second` intra-op threads on identical inputs; count the differences."""

    def __init__(self, first: int, second: int) -> None:
        super().__init__()
        self.first, self.second = first, second
        self.calls: dict[str, int] = defaultdict(int)
        self.differ: dict[str, dict[str, Any]] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        name = str(func.overloadpacket.__name__)
        seeded = torch.Tag.nondeterministic_seeded in func.tags or "generator" in kwargs
        if seeded or not any(isinstance(a, torch.Tensor) for a in tree_flatten((args, kwargs))[0]):
            return func(*args, **kwargs)
        args_b, kwargs_b = tree_map(_clone, (args, kwargs))
        torch.set_num_threads(self.second)
        out_b = func(*args_b, **kwargs_b)
        torch.set_num_threads(self.first)
        out_a = func(*args, **kwargs)
        self.calls[name] += 1
        same, worst = _same(out_a, out_b)
        if not same:
            entry = self.differ.setdefault(
                name,
                {
                    "differing_calls": 0,
                    "example_shapes": [
                        list(a.shape) for a in tree_flatten(args)[0] if isinstance(a, torch.Tensor)
                    ],
                    "max_abs_diff": 0.0,
                },
            )
            entry["differing_calls"] += 1
            signature = [
                list(a.shape) if isinstance(a, torch.Tensor) else a for a in tree_flatten((args, kwargs))[0]
            ]
            entry.setdefault("signatures", [])
            if signature not in entry["signatures"] and len(entry["signatures"]) < 6:
                entry["signatures"].append(signature)
            entry["max_abs_diff"] = max(entry["max_abs_diff"], worst)
        return out_a


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="zenml_config.yaml")
    parser.add_argument("--threads", type=int, nargs=2, default=[1, 4])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--structure-steps", type=int, default=20)
    args = parser.parse_args()
    experiment = read_run_config(args.config).require_experiment()
    dataset = load_dataset(experiment.data, experiment.split.min_group_size)
    split = split_dataset(dataset, experiment.split)
    structure = experiment.train.structure.model_copy(
        update={"steps_per_round": args.structure_steps, "min_rounds": 2, "max_rounds": 3}
    )
    train = experiment.train.model_copy(
        update={"epochs": args.epochs, "structure": structure, "device": "cpu"}
    )
    first, second = args.threads
    torch.set_num_threads(first)
    mode = ThreadDiff(first, second)
    with mode:
        fit = train_model(split.train, experiment.model, train, progress=None, structure_progress=None)
        evaluate_model(fit.model, split.test)
        x = torch.from_numpy(split.test.features)
        fit.model.get_attention_matrix(x)
        fit.model.causal_encoder(x)
        kl_causal(fit.model, x)
    forward_flops(fit.model, x, dense=True)  # FlopCounterMode is a dispatch mode of its own: outside
    record = {
        "threads": args.threads,
        "torch": torch.__version__,
        "ops_called": len(mode.calls),
        "calls": sum(mode.calls.values()),
        "differing_ops": {
            name: {**entry, "calls": mode.calls[name]} for name, entry in sorted(mode.differ.items())
        },
    }
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
