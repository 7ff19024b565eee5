"""Every error type of the science: each message names the problem and the fix in one line."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration file or value is wrong; the message names the key and the fix."""


class DataValidationError(ValueError):
    """Input data cannot be used; the message names the column/row and how to fix it."""


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; the message names the phase, the epoch or round and the fix."""


class TrainingOutOfMemoryError(RuntimeError):
    """The GPU ran out of memory in a training; the message names its size and what to lower."""


class TrainingStopped(Exception):
    """A stop was requested (SIGTERM) and the training checkpointed at an epoch boundary and returned early; a
    rerun of the same training resumes from that checkpoint."""

    def __init__(self, signal_name: str, epoch: int, epochs: int) -> None:
        super().__init__(
            f"{signal_name} received: the training stopped after epoch {epoch} of {epochs} and saved a "
            "checkpoint; the next attempt of this training resumes from it"
        )
        self.signal_name, self.epoch = signal_name, epoch


class DeviceUnavailableError(RuntimeError):
    """`train.device: cuda` where torch sees no CUDA device; the message says where and what to change."""


class RankFailedError(RuntimeError):
    """A rank of a data-parallel training died or failed; the message names the rank, the cause and that a
    rerun resumes from the last checkpoint."""
