"""Progress of a training: a bar redrawn in place on a terminal, plain log lines with the ETA elsewhere."""

from __future__ import annotations

import io
import logging

import pytest

from model.artifacts import EpochRecord
from model.config import ModelConfig, TrainConfig
from model.data.tables import Dataset
from model.training.progress import TrainingProgress, bar, format_duration
from model.training.trainer import train_model
from tests.model.conftest import TINY_STRUCTURE


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _record(epoch: int, seconds: float = 2.0) -> EpochRecord:
    return EpochRecord(epoch, {"total": 1.0 / epoch}, 0.5 + epoch / 100, [1.0, 0.5], 0.6, {}, seconds)


def test_durations_and_bars() -> None:
    assert [format_duration(s) for s in (0, 5.4, 754, 3723)] == ["0:00", "0:05", "12:34", "1:02:03"]
    assert bar(0, 4, 8) == "[........]" and bar(2, 4, 8) == "[####....]" and bar(9, 4, 8) == "[########]"


def test_plain_lines_with_eta_when_not_on_a_terminal(caplog: pytest.LogCaptureFixture) -> None:
    clock, stream = Clock(), io.StringIO()
    progress = TrainingProgress("repro_seed_43", max_rounds=10, stream=stream, clock=clock)
    with caplog.at_level(logging.INFO, logger="causal_lattice.train"):
        clock.now += 3.0
        progress.structure_round({"round": 1.0, "nll": 2.0, "acyclicity": 0.1, "edges": 4.0, "is_dag": 1.0})
        clock.now += 4.0  # the first epoch took 2 of these seconds: the predictor phase started 2 s ago
        progress.epoch(_record(1), 5)
        clock.now += 2.0
        progress.epoch(_record(2), 5)
    assert stream.getvalue() == ""  # nothing drawn: the lines go to the log
    first, second = progress.lines[1:]
    assert "round 1/<=10" in progress.lines[0] and "ETA 0:27 (at most)" in progress.lines[0]
    assert first.startswith("repro_seed_43 predictor [") and "epoch 1/5 loss=1.0000 acc=0.510" in first
    assert "ETA 0:08" in first and "epoch 2/5" in second and "ETA 0:06" in second
    assert [r.getMessage() for r in caplog.records] == progress.lines


def test_redraws_one_line_on_a_terminal_and_ends_with_a_plain_line(caplog: pytest.LogCaptureFixture) -> None:
    clock, stream = Clock(), Terminal()
    progress = TrainingProgress("train", max_rounds=3, stream=stream, clock=clock)
    with caplog.at_level(logging.INFO, logger="causal_lattice.train"):
        progress.structure_round({"round": 1.0, "nll": 2.0, "acyclicity": 0.1, "edges": 4.0, "is_dag": 1.0})
        for epoch in (1, 2):
            clock.now += 2.0
            progress.epoch(_record(epoch), 2)
    drawn = stream.getvalue()
    assert drawn.count("\r\033[2K") == 3
    # The structure line is kept, the epoch lines overwrite each other, the last one ends the line.
    assert drawn.count("\n") == 2 and drawn.endswith("took 0:04\n")
    assert [r.getMessage() for r in caplog.records] == [progress.lines[-1]]  # the stored logs get the last


def test_train_model_drives_the_callbacks(tiny_train_split: Dataset, tiny_config: ModelConfig) -> None:
    stream = io.StringIO()
    progress = TrainingProgress("train", max_rounds=TINY_STRUCTURE.max_rounds, stream=stream)
    config = TrainConfig(seed=1, batch_size=32, epochs=3, lr=1e-3, structure=TINY_STRUCTURE)
    train_model(tiny_train_split, tiny_config, config, progress.epoch, progress.structure_round)
    rounds = [line for line in progress.lines if " structure " in line]
    epochs = [line for line in progress.lines if " predictor " in line]
    assert TINY_STRUCTURE.min_rounds <= len(rounds) <= TINY_STRUCTURE.max_rounds
    assert [line.split(" epoch ")[1].split()[0] for line in epochs] == ["1/3", "2/3", "3/3"]
    assert "took " in epochs[-1] and all("ETA" in line for line in epochs[:-1])
