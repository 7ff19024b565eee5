"""SDCD (Nazaret et al., ICML 2024; PyPI `sdcd`) on one table of rows, for bench/structure_scale.py.

    build/venv-sdcd/bin/python bench/sdcd_run.py --data X.npy --out DIR [--device cuda]

Runs in SDCD's own environment (`make sdcd` builds build/venv-sdcd: its pins, pandas<2 and numba 0.59, clash
with requirements.lock), so it imports nothing of this project. The rows are observational (no interventions):
SDCD's dataset is (X, an all-ones intervention mask, regime 0), what `sdcd.utils.create_intervention_dataset`
makes of rows without perturbations. SDCD is trained with its published defaults (two stages, early stopping,
threshold 0.1) and writes into DIR: `weights.npy` (its weighted adjacency, for edge AUROC), `dag.npy` (its
thresholded adjacency with cycles removed, `SDCD.get_adjacency_matrix()`), and `result.json` (`structure_s`:
the training's wall time, `peak_memory_gib` on CUDA).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sdcd.models import SDCD
from torch.utils.data import TensorDataset


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="rows as a float32 .npy, shape (n, F)")
    parser.add_argument(
        "--out", type=Path, required=True, help="folder for weights.npy, dag.npy, result.json"
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    x = torch.from_numpy(np.load(args.data)).float()
    dataset = TensorDataset(x, torch.ones_like(x, dtype=torch.long), torch.zeros(len(x), dtype=torch.long))
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model = SDCD()
    started = time.perf_counter()
    model.train(dataset, device=device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "weights.npy", model.get_adjacency_matrix(threshold=False))
    np.save(args.out / "dag.npy", model.get_adjacency_matrix())
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    (args.out / "result.json").write_text(json.dumps({"structure_s": seconds, "peak_memory_gib": peak}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
