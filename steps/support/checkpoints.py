"""Where a training step keeps its checkpoint: in the stack's artifact store (local folder, S3 or GCS alike), under
a key of everything that decides the training, so a rerun of the same training finds it and no other does."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from zenml.client import Client
from zenml.io import fileio

import model as model_package
from model.config import ModelConfig, TrainConfig
from model.data.splits import DataSplit, DataView
from model.training.checkpoint import TrainingCheckpoint

FILE_NAME = "checkpoint.safetensors"


@dataclass(frozen=True)
class ArtifactStoreCheckpoints:
    """One checkpoint file at `directory` (a URI of the artifact store), replaced by a rename."""

    directory: str

    @property
    def file(self) -> str:
        return f"{self.directory}/{FILE_NAME}"

    def read(self) -> bytes | None:
        if not fileio.exists(self.file):
            return None
        with fileio.open(self.file, "rb") as handle:
            content: bytes = handle.read()
        return content

    def write(self, content: bytes) -> None:
        fileio.makedirs(self.directory)
        staging = f"{self.file}.{os.getpid()}.tmp"
        with fileio.open(staging, "wb") as handle:
            handle.write(content)
        fileio.rename(staging, self.file, overwrite=True)

    def clear(self) -> None:
        if fileio.exists(self.file):
            fileio.remove(self.file)


def source_digest() -> str:
    """A hash of the model package's code: a checkpoint of other code is never resumed."""
    digest = hashlib.sha256()
    for path in sorted(Path(model_package.__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def training_checkpoint(
    step_name: str, view: DataView, split: DataSplit, model_config: ModelConfig, train_config: TrainConfig
) -> TrainingCheckpoint:
    """The checkpoint of this step's training, keyed by the training rows, the configs, the code and torch."""
    digest = hashlib.sha256()
    for part in (
        step_name,
        str(view),
        split.train.fingerprint(),
        model_config.model_dump_json(),
        train_config.model_dump_json(),
        source_digest(),
        torch.__version__,
    ):
        digest.update(part.encode())
        digest.update(b"\x1f")
    key = digest.hexdigest()[:24]
    root = Client().active_stack.artifact_store.path.rstrip("/")
    store = ArtifactStoreCheckpoints(f"{root}/checkpoints/{step_name}/{key}")
    return TrainingCheckpoint(store, train_config.checkpoint_every, key)
