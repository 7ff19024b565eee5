"""The data-parallel benchmark's CPU smoke mode on a tiny model (gloo ranks): both rank counts are timed, the
record has the keys the issue names, and it is never a multi_gpu_<card>x<N> record; without two GPUs the
benchmark says so in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from bench import multi_gpu


def test_cpu_smoke_run_times_one_and_two_ranks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "multi_gpu_cpu-smoke.json"
    argv = [
        "--cpu-ranks",
        "2",
        "--sizes",
        "12",
        "--rows",
        "80",
        "--structure-steps",
        "2",
        "--timed-epochs",
        "1",
    ]
    assert multi_gpu.main([*argv, "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert json.loads(out.read_text()) == printed
    assert printed["device_name"].startswith("cpu") and printed["gpu_counts"] == [1, 2]
    (case,) = printed["sizes"]
    assert case["n_features"] == 12
    assert set(case["samples_per_s"]) == set(case["speedup"]) == set(case["step_s"]) == {"1", "2"}
    assert case["speedup"]["1"] == 1.0 and case["samples_per_s"]["2"] > 0
    assert case["runs"]["2"]["global_batch"] == 2 * case["runs"]["1"]["global_batch"]


def test_no_second_gpu_and_cpu_numbers_as_gpu_records_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    if torch.cuda.device_count() < 2:
        assert multi_gpu.main([]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line.startswith("error: this machine has") and "needs 2 or more" in line
    with pytest.raises(SystemExit) as exit_info:
        multi_gpu.main(["--cpu-ranks", "2", "--out", "bench/results/multi_gpu_h100x2.json"])
    assert exit_info.value.code == 2
    assert "never writes a multi_gpu_<card>x<N> record" in capsys.readouterr().err
    assert multi_gpu.card_name("NVIDIA H100 80GB HBM3") == "h100"
    assert multi_gpu.gpu_counts(8) == [1, 2, 4, 8] and multi_gpu.gpu_counts(2) == [1, 2]
