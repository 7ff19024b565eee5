"""Every hostile input of the catalogue (tools/hostile, docs/reliability.md) through the real front door:
refused with one line naming the problem (exit 2), or accepted for its stated reason and then trainable. Two
inputs depend on the machine, not the files, and are tested here on their own: an address-space limit
(`ulimit -v`) too small for the training, and `train.device: cuda` where torch sees no GPU."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from zenml.utils import source_utils

from cli.main import main
from model.errors import DeviceUnavailableError
from model.training.device import resolve_device
from tools.hostile import ACCEPT, all_cases, run_all, summary_table
from tools.hostile.common import config_change, table

REPO = Path(__file__).resolve().parents[1]

CASES = all_cases()


def test_the_catalogue_has_over_150_distinct_inputs() -> None:
    assert len(CASES) >= 150
    assert sum(case.expect == ACCEPT for case in CASES) < len(CASES) / 4
    assert all(case.reason for case in CASES if case.expect == ACCEPT)  # every acceptance says why


def test_every_input_is_refused_in_one_line_or_accepted_and_trains() -> None:
    outcomes = run_all(CASES, train=True)
    unexpected = [(o.case.family, o.case.name, o.category, o.line) for o in outcomes if not o.as_expected]
    assert not unexpected, summary_table(outcomes) + "\n" + "\n".join(map(str, unexpected))
    assert not [o for o in outcomes if o.category == "other"]  # a hang (the per-input limit) counts as other


@pytest.mark.parametrize(
    "name", ["gzip bytes named .csv", "1,000 classes on 1,500 rows", "three-node cycle", "alias bomb"]
)
def test_run_refuses_like_validate_before_zenml_starts(name: str, tmp_path: Path, monkeypatch) -> None:
    (case,) = [c for c in CASES if c.name == name]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZENML_CONFIG_PATH", str(tmp_path / "zenml"))
    config = case.build(tmp_path)
    result = CliRunner().invoke(main, ["run", "-c", str(config)])
    assert result.exit_code == 2 and case.expect in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "zenml").exists() and not (tmp_path / "results").exists()


def test_the_memory_check_counts_the_address_space_limit(tmp_path: Path) -> None:
    """3,005 features (a training of about 4.8 GiB) under `ulimit -v` 3 GiB, on a machine said to have 64 GiB:
    refused before training, naming the address-space limit (before, it passed and the training died)."""

    def widen(frame: pd.DataFrame) -> pd.DataFrame:
        noise = np.random.default_rng(1).normal(size=(len(frame), 3000))
        return pd.concat([frame, pd.DataFrame(noise, columns=[f"x{i}" for i in range(3000)])], axis=1)

    config = table(widen)(tmp_path)
    limit = 3 << 30
    result = subprocess.run(
        [sys.executable, "-m", "cli", "validate", "-c", str(config)],
        cwd=Path(__file__).resolve().parents[1],
        env={"PATH": "/usr/bin:/bin", "CAUSAL_LATTICE_MEMORY_BYTES": str(64 << 30), "OMP_NUM_THREADS": "1"},
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: training on 3005 features needs about 4.8 GiB and ")
    assert "free under the address-space limit (ulimit -v / RLIMIT_AS 3.0 GiB" in line


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_device_cuda_without_cuda(tmp_path: Path, monkeypatch) -> None:
    """Refused before the pipeline starts where the local orchestrator would train here; in a step on a node
    without a GPU, one line naming the host and the fix, raised before any work (steps/support/runtime.py)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZENML_CONFIG_PATH", str(tmp_path / "zenml"))
    # In-process, ZenML takes its source root from the main module's file, which a pytest-xdist worker's main
    # module has not: name the repository, where the pipeline's modules are.
    monkeypatch.setattr(source_utils, "_CUSTOM_SOURCE_ROOT", str(REPO))
    config = config_change({"train": {"device": "cuda"}})(tmp_path)
    assert CliRunner().invoke(main, ["validate", "-c", str(config)]).exit_code == 0  # fine for a GPU stack
    result = CliRunner().invoke(main, ["run", "-c", str(config)])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: train.device is 'cuda' but torch sees no CUDA device on ")
    assert "runs the steps on this machine (local orchestrator)" in line and "train.device: auto" in line
    assert not (tmp_path / "results").exists()
    with pytest.raises(DeviceUnavailableError, match="gpu_count: 1"):
        resolve_device("cuda")
