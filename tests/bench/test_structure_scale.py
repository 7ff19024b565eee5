"""The transcriptome-scale structure benchmark (bench/structure_scale.py) run tiny on the CPU: the record has
every key issue 22 lists, SDCD past its time limit is recorded as timed out, and bad sizes are usage errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from bench import structure_scale

# One size of 16 features on 300 rows, 10 structure steps a round and label-edge search refits of 20 steps (at
# the default 200 the search's 200 refits were the whole minute this test took): seconds on the CPU.
TINY = [
    "--device",
    "cpu",
    "--sizes",
    "16",
    "--rows",
    "300",
    "--steps-per-round",
    "10",
    "--orientation-steps",
    "20",
]
SCORES = {"precision", "recall", "shd", "edge_auroc", "is_dag", "structure_s", "peak_memory_gib"}


def test_a_tiny_run_records_every_key_and_sdcd_past_its_limit_as_timed_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "structure_scale_cpu.json"
    argv = [*TINY, "--max-rounds", "2"]
    # Any interpreter will do for SDCD here: it is killed after 10 ms, long before it could import sdcd.
    argv += ["--sdcd-python", sys.executable, "--sdcd-timeout", "0.01"]
    argv += ["--seed-e2e", "16", "--seed-e2e-epochs", "1", "--out", str(out)]
    assert structure_scale.main(argv) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert json.loads(out.read_text()) == printed
    assert printed["device_name"] == "cpu"
    (case,) = printed["sizes"]
    assert case["n_features"] == 16 and case["true_edges"] > 0
    assert set(case["model"]) >= SCORES and case["model"]["is_dag"] is True
    assert 0 <= case["model"]["precision"] <= 1 and case["model"]["peak_memory_gib"] is None
    assert case["model"]["rounds"] <= 2
    assert case["sdcd"] == {"timed_out": True, "timeout_s": 0.01}
    assert {"n_features", "total_s", "structure_s", "precision", "recall"} <= set(printed["seed_e2e"])
    assert 0 < printed["seed_e2e"]["structure_s"] < printed["seed_e2e"]["total_s"]


@pytest.mark.parametrize(
    ("option", "message"),
    [(["--sizes", "1k"], "give comma-separated feature counts"), (["--sizes", "30000"], "each F between")],
)
def test_bad_sizes_are_usage_errors(
    option: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        structure_scale.main(["--device", "cpu", "--no-sdcd", *option])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_failing_sdcd_is_recorded_and_the_schedule_overrides_reach_the_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*TINY, "--max-rounds", "3"]
    argv += ["--min-rounds", "2", "--edge-lr", "0.05", "--sparsity", "0.01", "--candidate-parents", "4"]
    argv += ["--seed-e2e", "0", "--out", str(tmp_path / "r.json")]
    argv += ["--sdcd-python", "/bin/false"]  # an interpreter that exits 1 at once
    assert structure_scale.main(argv) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["structure"]["edge_lr"] == 0.05 and printed["structure"]["min_rounds"] == 2
    assert printed["structure"]["sparsity"] == 0.01 and printed["structure"]["candidate_parents"] == 4
    assert printed["structure"]["orientation_steps"] == 20
    (case,) = printed["sizes"]
    assert case["sdcd"] == {"failed": "exit 1: (no output)", "timed_out": False}
    assert case["model"]["is_dag"] is True


def test_a_size_that_does_not_fit_the_device_is_recorded_as_out_of_memory() -> None:
    def too_large() -> dict[str, float]:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 35.77 GiB.\nmore detail")

    assert structure_scale.within_memory(torch.device("cpu"), too_large) == {
        "out_of_memory": True,
        "error": "CUDA out of memory. Tried to allocate 35.77 GiB.",
        "peak_memory_gib": None,
    }
    assert structure_scale.within_memory(torch.device("cpu"), lambda: {"recall": 1.0}) == {"recall": 1.0}


def test_min_rounds_above_max_rounds_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        structure_scale.main(["--device", "cpu", "--no-sdcd", "--min-rounds", "9", "--max-rounds", "3"])
    assert exit_info.value.code == 2
    assert "--min-rounds 9 exceeds the schedule's max_rounds 3" in capsys.readouterr().err
