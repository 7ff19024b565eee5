"""When the compiled blocks recompute instead of saving (model/training/device.py::activation_memory_budget)."""

from __future__ import annotations

from model.training.device import RECOMPUTING_BUDGET, activation_memory_budget


def test_compiled_blocks_recompute_only_when_saved_activations_outgrow_half_the_device() -> None:
    """On an 80 GB card, F = 1,024 at batch 256 keeps every intermediate (the fastest); F = 4,096 at batch 256
    (about 90 GB of saved activations, issue 23) recomputes; a smaller batch at that width need not."""
    card = 80 * 10**9
    assert activation_memory_budget(256, 1025, 256, 8, card) == 1.0
    assert activation_memory_budget(256, 4097, 256, 8, card) == RECOMPUTING_BUDGET < 1.0
    assert activation_memory_budget(64, 4097, 256, 8, card) == 1.0
