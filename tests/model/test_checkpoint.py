"""Checkpoints: a training killed mid-way (a real SIGKILL of its process) resumes from its last checkpoint to
bit-identical weights, history and metrics on CPU; one sent SIGTERM (a preempted pod) checkpoints at the end of
its running epoch and stops, and resumes from there; a checkpoint of another training or a torn file is
ignored."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Trains a small model with checkpoints in argv[1] (every 2 epochs of 10), printing each finished epoch, then
# prints the weights digest, the per-epoch losses and the test metrics as JSON; argv[2] is the training's key, argv[3]
# an epoch after which it waits for a line on stdin.
SCRIPT = """
import json, logging, sys
logging.basicConfig(level=logging.INFO)
from pathlib import Path
from model.training.checkpoint import DirectoryStore, TrainingCheckpoint
from model.config import ModelConfig, SplitConfig, StructureConfig, SyntheticDataConfig, TrainConfig
from model.artifacts import weights_digest
from model.data.splits import split_dataset
from model.data.generator import make_synthetic_pancancer
from model.training.signals import install_stop_handler, stop_requested
from model.errors import TrainingStopped
from model.training.trainer import evaluate_model, train_model

data = make_synthetic_pancancer(SyntheticDataConfig(n_samples=200, n_genes=6, n_causal_genes=2, n_biomarkers=1))
split = split_dataset(data, SplitConfig())
model_config = ModelConfig(d_model=16, n_heads=2, n_blocks=2, d_latent=8, dropout=0.1)
train_config = TrainConfig(epochs=10, lr=3e-3, checkpoint_every=2, batch_size=32,
                           structure=StructureConfig(steps_per_round=15, min_rounds=2, max_rounds=2,
                                                      orientation_steps=40))
key = sys.argv[2] if len(sys.argv) > 2 else "training-a"
checkpoint = TrainingCheckpoint(DirectoryStore(Path(sys.argv[1])), train_config.checkpoint_every, key)
pause_after = int(sys.argv[3]) if len(sys.argv) > 3 else None
def progress(record, epochs):
    print(f"epoch {record.epoch}", flush=True)
    if record.epoch == pause_after:  # the SIGTERM test signals here, before the next epoch, however busy the CPU
        sys.stdin.readline()
install_stop_handler()  # SIGTERM: checkpoint at the end of the running epoch and stop
try:
    fit = train_model(split.train, model_config, train_config, progress=progress, structure_progress=None,
                      checkpoint=checkpoint, stop_requested=stop_requested)
except TrainingStopped as stopped:
    print(f"stopped after epoch {stopped.epoch}", flush=True)
    sys.exit(143)
print(json.dumps({"digest": weights_digest(fit.model), "epochs": [r.epoch for r in fit.history],
                  "loss": [r.loss for r in fit.history], "metrics": evaluate_model(fit.model, split.test),
                  "rounds": fit.structure.rounds}))
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _train(directory: Path, *args: str) -> tuple[dict, str]:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(directory), *args],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def _kill_after(directory: Path, epoch: int) -> None:
    """Start the training and SIGKILL it once it printed `epoch` (0: once the structure phase's checkpoint is
    on disk, before any epoch). After printing `epoch` the training waits for a line on stdin that never comes,
    so a busy CPU cannot let it train on past `epoch` before the kill."""
    pause = [str(epoch)] if epoch > 0 else []
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(directory), "training-a", *pause],
        env=_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 600
    checkpoint = directory / "checkpoint.safetensors"
    while time.monotonic() < deadline:
        if epoch == 0 and checkpoint.exists():
            break
        if epoch > 0 and process.stdout.readline().strip() == f"epoch {epoch}":
            break
        if epoch == 0:
            time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert checkpoint.exists()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    directory = tmp_path_factory.mktemp("uninterrupted")
    result, _ = _train(directory)
    assert not (directory / "checkpoint.safetensors").exists()  # a finished training drops its checkpoint
    return result


@pytest.mark.parametrize("killed_after", [0, 5])
def test_killed_training_resumes_to_bit_identical_weights(
    killed_after: int, uninterrupted: dict, tmp_path: Path
) -> None:
    _kill_after(tmp_path, killed_after)
    resumed, log = _train(tmp_path)
    # Killed after epoch 5, the last checkpoint is epoch 4's: epoch 5 is trained again.
    assert f"resumed from the checkpoint taken after epoch {4 if killed_after else 0}" in log
    assert resumed["digest"] == uninterrupted["digest"]
    assert resumed["loss"] == uninterrupted["loss"] and resumed["epochs"] == list(range(1, 11))
    assert resumed["metrics"] == uninterrupted["metrics"]
    assert resumed["rounds"] == uninterrupted["rounds"]
    assert not (tmp_path / "checkpoint.safetensors").exists()


def test_a_checkpoint_of_another_training_or_a_torn_file_is_ignored(
    uninterrupted: dict, tmp_path: Path
) -> None:
    _kill_after(tmp_path, 3)
    other, log = _train(tmp_path, "training-b")  # another key: starts afresh, same result as from scratch
    assert "ignoring a checkpoint of another training" in log and other["digest"] == uninterrupted["digest"]
    (tmp_path / "checkpoint.safetensors").write_bytes(b"\x00" * 100)
    torn, log = _train(tmp_path)
    assert "ignoring an unreadable checkpoint" in log and torn["digest"] == uninterrupted["digest"]


def test_sigterm_checkpoints_the_running_epoch_and_the_rerun_resumes_from_it(
    uninterrupted: dict, tmp_path: Path
) -> None:
    """What Kubernetes does to a preempted pod: SIGTERM mid-training (here after epoch 3 printed, between two
    periodic checkpoints), SIGKILL only after the grace period. The training saves the epoch it is in and exits
    at once; the next attempt resumes from that epoch, not from the last periodic checkpoint."""
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path), "training-a", "3"],
        env=_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    while (line := process.stdout.readline().strip()) != "epoch 3":
        assert line, "the training ended before epoch 3"
    # The training waits after printing epoch 3 until the signal is sent: on a busy machine it would otherwise
    # finish its last epochs before this process is scheduled to send it.
    process.send_signal(signal.SIGTERM)
    process.stdin.close()
    rest = process.stdout.read()
    assert process.wait(timeout=60) == 143
    stopped_after = int(rest.split("stopped after epoch ")[1].split()[0])
    assert stopped_after in (3, 4)  # the epoch that was running (or had just ended) when SIGTERM came
    resumed, log = _train(tmp_path)
    assert f"resumed from the checkpoint taken after epoch {stopped_after}" in log
    assert resumed["digest"] == uninterrupted["digest"] and resumed["loss"] == uninterrupted["loss"]
    assert resumed["metrics"] == uninterrupted["metrics"]
