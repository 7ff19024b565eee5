"""The width benchmark's CPU mode end to end on a tiny model: every model is timed, the record and its plot are
written where the docs say, and its one JSON line parses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import gpu_scaling


def test_cpu_mode_times_every_model_and_writes_its_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "gpu_scaling_cpu.json"
    argv = ["--device", "cpu", "--sizes", "16", "--no-compile", "--rows", "80", "--batch", "16"]
    argv += ["--d-model", "16", "--heads", "2", "--blocks", "2", "--structure-steps", "2"]
    assert gpu_scaling.main([*argv, "--inference-epochs", "2", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert json.loads(out.read_text()) == printed
    assert out.with_suffix(".png").stat().st_size > 0
    (case,) = printed["sizes"]
    for model in ("plain_eager", "train_model"):
        assert case[model]["samples_per_s"] > 0 and case[model]["batch"] == 16
        assert len(case[model]["epoch_s"]) == 3  # the warm-up, then three timed epochs (the median counts)
    assert 0 < case["inference"]["block_passes_run_share"] <= 1
    assert printed["command"].endswith(f"--out {out}")
    assert printed["device_name"] == "cpu" and printed["device_memory_gib"] is None
    # A rerun never overwrites the first record.
    assert gpu_scaling.main([*argv, "--inference-epochs", "2", "--out", str(out)]) == 0
    assert len(list(tmp_path.glob("gpu_scaling_cpu*.json"))) == 2


def test_no_timed_epoch_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        gpu_scaling.main(["--device", "cpu", "--timed-epochs", "0"])
    assert exit_info.value.code == 2
    assert "--timed-epochs 0: time at least 1 epoch" in capsys.readouterr().err
