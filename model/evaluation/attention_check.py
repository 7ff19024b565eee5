"""Exp-1 of the seed's protocol: the attention maps against the lattice's causal prior (the heatmap, the
attention weights, the KL to the prior and the least KL any attention under the lattice mask can have).

Every check of the protocol (this package's `*_check` modules, `reproducibility`, `cohort_subsets`) returns a
`ProtocolOutcome`: measured numbers plus the files of docs/design.md §4 (relative path -> bytes). The bytes
travel inside the ZenML artifact, so a later step (the report) has them wherever it runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.artifacts import ProtocolOutcome
from model.data.batching import feature_tensor
from model.data.tables import Dataset
from model.evaluation import plots
from model.nn.attention import attention_kl_floor
from model.nn.transformer import CausalLatticeTransformer
from model.training.metrics import kl_causal


def check_attention(model: CausalLatticeTransformer, data: Dataset) -> ProtocolOutcome:
    """Exp-1: attention over features (averaged over blocks, heads and rows of `data`) and `kl_causal`, the
    mean over query rows, heads, blocks and samples of KL(attention_i ‖ P_i). The KL of the averaged matrix
    (never larger, by convexity) is reported beside it, named as such, and so is the floor that the lattice
    mask sets under kl_causal (`attention_kl_floor`) with what lies above it: how far attention moved from the
    prior where it may attend."""
    x = feature_tensor(data)
    matrix = model.get_attention_matrix(x).numpy()
    prior = model.causal_prior().detach().numpy()
    kl = kl_causal(model, x)
    floor = float(attention_kl_floor(model.prior, model.bias))
    averaged_rows = (
        matrix * (np.log(np.clip(matrix, 1e-12, None)) - np.log(np.clip(prior, 1e-12, None)))
    ).sum(axis=1)
    diagonal_share = float(np.trace(matrix) / matrix.shape[0])
    frame = pd.DataFrame(matrix, index=model.feature_names, columns=model.feature_names)
    return ProtocolOutcome(
        metrics={
            "kl_causal": kl,
            # The part of kl_causal that the lattice mask fixes (no attention can go below it), and the rest.
            "kl_causal_mask_floor": floor,
            "kl_causal_above_floor": kl - floor,
            "kl_of_averaged_attention": float(averaged_rows.mean()),
            "attention_diagonal_mean": diagonal_share,
            "n_features": int(matrix.shape[0]),
        },
        files={
            "visuals/attention/heatmap.png": plots.attention_heatmap(matrix, model.feature_names, kl),
            "visuals/attention/attention_weight.csv": frame.to_csv(index_label="query").encode(),
        },
    )
