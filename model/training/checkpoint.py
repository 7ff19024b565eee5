"""Checkpoints of one training, so a training killed mid-way resumes to the same weights.

`train_model` saves after the structure phase (one unit) and after every `train.checkpoint_every` predictor
epochs: the parameters, the optimiser's state, every random generator the training draws from (the batch and
mask generator, torch's, NumPy's and Python's), the structure fit and the epoch history. Resuming restores all
of them, so on CPU the resumed training ends with bit-identical weights and metrics.

A checkpoint is one safetensors blob (no pickle), written to a temporary name and renamed over the previous one,
so a kill mid-write leaves the previous checkpoint whole. It carries a key (the step builds it from the data,
the configuration and the code); a checkpoint with another key is ignored.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from model.structure.equations import StructureFit

logger = logging.getLogger("causal_lattice.checkpoint")
_META = "__meta__"


class CheckpointStore(Protocol):
    """Where one training's checkpoint lives: read the last one, replace it atomically, drop it."""

    def read(self) -> bytes | None: ...

    def write(self, content: bytes) -> None: ...

    def clear(self) -> None: ...


@dataclass(frozen=True)
class DirectoryStore:
    """A checkpoint file in a local folder (written to a temporary name, then renamed over the old one)."""

    directory: Path
    name: str = "checkpoint.safetensors"

    def read(self) -> bytes | None:
        path = self.directory / self.name
        return path.read_bytes() if path.is_file() else None

    def write(self, content: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        staging = self.directory / f".{self.name}.{os.getpid()}.tmp"
        with staging.open("wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staging, self.directory / self.name)

    def clear(self) -> None:
        (self.directory / self.name).unlink(missing_ok=True)


@dataclass
class Resumed:
    """A loaded checkpoint: the epoch it was taken after (0: after the structure phase) and its contents."""

    epoch: int
    fit: StructureFit
    history: list[dict[str, Any]]
    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]

    def restore_model(self, model: torch.nn.Module, generator: torch.Generator) -> StructureFit:
        """Parameters and random generators back; returns the structure fit (the structure phase is skipped)."""
        prefix = "model."
        state = {k[len(prefix) :]: v for k, v in self.tensors.items() if k.startswith(prefix)}
        model.load_state_dict(state)
        refresh = getattr(model, "refresh_lattice", None)
        if refresh is not None:
            refresh()
        generator.set_state(self.tensors["rng.generator"])
        torch.set_rng_state(self.tensors["rng.torch"])
        numpy_state = self.meta["rng_numpy"]
        np.random.set_state(
            (numpy_state[0], self.tensors["rng.numpy"].numpy().astype(np.uint32), *numpy_state[1:])
        )
        python_state = self.meta["rng_python"]
        random.setstate((python_state[0], tuple(python_state[1]), python_state[2]))
        logger.info("resumed from the checkpoint taken after epoch %d", self.epoch)
        return self.fit

    def restore_optimizer(self, optimizer: torch.optim.Optimizer) -> int:
        """The optimiser's state back (none after the structure phase); returns the last finished epoch."""
        if self.epoch > 0:
            groups = self.meta["optimizer_groups"]
            for group in groups:
                if "betas" in group:
                    group["betas"] = tuple(group["betas"])
            state: dict[int, dict[str, Any]] = {}
            for key, value in self.tensors.items():
                if key.startswith("optim."):
                    _, index, name = key.split(".", 2)
                    state.setdefault(int(index), {})[name] = value
            for index, values in self.meta["optimizer_scalars"].items():
                state.setdefault(int(index), {}).update(values)
            optimizer.load_state_dict({"state": state, "param_groups": groups})
        return self.epoch


class TrainingCheckpoint:
    """Saves and finds one training's checkpoint in `store`: after the structure phase and every `every`
    predictor epochs (`every` 0: checkpoints off)."""

    def __init__(self, store: CheckpointStore, every: int, key: str = "") -> None:
        self.store, self.every, self.key = store, every, key

    def load(self) -> Resumed | None:
        if self.every <= 0:
            return None
        content = self.store.read()
        if content is None:
            return None
        try:
            tensors = load_tensors(content)
            meta = json.loads(bytes(tensors.pop(_META).numpy()).decode())
        except (
            SafetensorError,
            ValueError,
            KeyError,
            RuntimeError,
        ) as error:  # a torn or foreign file: start afresh
            logger.warning("ignoring an unreadable checkpoint (%s)", error)
            return None
        if meta.get("key") != self.key:
            logger.info("ignoring a checkpoint of another training (key %s)", meta.get("key"))
            return None
        fit = StructureFit(**meta["fit"])
        fit.removed_cycle_edges = [tuple(edge) for edge in fit.removed_cycle_edges]  # type: ignore[misc]
        fit.reversed_label_edges = [tuple(edge) for edge in fit.reversed_label_edges]  # type: ignore[misc]
        fit.added_label_parents = [tuple(edge) for edge in fit.added_label_parents]  # type: ignore[misc]
        fit.label_parents_made_children = [
            tuple(edge)  # type: ignore[misc]
            for edge in fit.label_parents_made_children
        ]
        return Resumed(meta["epoch"], fit, meta["history"], tensors, meta)

    def save(
        self,
        epoch: int,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer | None,
        generator: torch.Generator,
        fit: StructureFit,
        history: list[Any],
    ) -> None:
        if self.every <= 0:
            return
        # Names as in the uncompiled model (torch.compile wraps modules as `_orig_mod`): resuming loads them
        # before any block is compiled.
        tensors = {
            f"model.{k.replace('_orig_mod.', '')}": v.detach().cpu().contiguous()
            for k, v in model.state_dict().items()
        }
        groups: list[dict[str, Any]] = []
        scalars: dict[str, dict[str, Any]] = {}
        if optimizer is not None:
            state = optimizer.state_dict()
            groups = state["param_groups"]
            for index, values in state["state"].items():
                for name, value in values.items():
                    if isinstance(value, torch.Tensor):
                        tensors[f"optim.{index}.{name}"] = value.detach().cpu().contiguous()
                    else:
                        scalars.setdefault(str(index), {})[name] = value
        numpy_state = cast(tuple[Any, ...], np.random.get_state(legacy=True))
        tensors["rng.generator"] = generator.get_state()
        tensors["rng.torch"] = torch.get_rng_state()
        tensors["rng.numpy"] = torch.from_numpy(np.asarray(numpy_state[1], dtype=np.int64))
        python_state = random.getstate()
        meta = {
            "key": self.key,
            "epoch": epoch,
            "fit": dataclasses.asdict(fit),
            "history": [dataclasses.asdict(record) for record in history],
            "optimizer_groups": groups,
            "optimizer_scalars": scalars,
            "rng_numpy": [numpy_state[0], *(v for v in numpy_state[2:])],
            "rng_python": [python_state[0], list(python_state[1]), python_state[2]],
        }
        tensors[_META] = torch.frombuffer(bytearray(json.dumps(meta).encode()), dtype=torch.uint8)
        self.store.write(save_tensors(tensors))
        logger.info("checkpoint after epoch %d", epoch)

    def after_epoch(
        self,
        epoch: int,
        epochs: int,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
        fit: StructureFit,
        history: list[Any],
    ) -> bool:
        """Save every `every` epochs, not after the last one (the training is about to return); True if saved."""
        due = self.every > 0 and epoch % self.every == 0 and epoch < epochs
        if due:
            self.save(epoch, model, optimizer, generator, fit, history)
        return due

    def clear(self) -> None:
        """The training finished: its checkpoint is no longer needed."""
        if self.every > 0:
            self.store.clear()
