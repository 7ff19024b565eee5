"""Running one training as N data-parallel ranks (docs/design.md, "Data-parallel training").

The process that calls `train_on_ranks` is rank 0: it keeps the progress, the checkpoint and the stop request
and returns the result. The other ranks either are processes torchrun (or a Kubeflow Trainer job) started
beside it, given as a `RankEnvironment`, which run `follow`; or `train_on_ranks` starts them itself on this
machine (torch.multiprocessing). Rank 0 sends every rank the training's inputs, so the other ranks need no
data, artifact store or MLflow. The group is NCCL on CUDA (one GPU per rank) and gloo on the CPU, and it is
destroyed before `train_on_ranks` returns. A rank that dies ends the training with one RankFailedError naming
the rank and the cause.
"""

from __future__ import annotations

import ctypes
import datetime
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from model.artifacts import EpochRecord, FitResult
from model.config import ModelConfig, TrainConfig
from model.data.tables import Dataset
from model.errors import (
    ConfigError,
    RankFailedError,
    TrainingDivergedError,
    TrainingOutOfMemoryError,
    TrainingStopped,
)
from model.training.checkpoint import TrainingCheckpoint
from model.training.data_parallel import DataParallel
from model.training.threads import pin_threads
from model.training.trainer import train_model

# How long a rank waits in one collective for the others (rank 0 writes a checkpoint while they wait).
COLLECTIVE_TIMEOUT = datetime.timedelta(minutes=30)
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies


@dataclass(frozen=True)
class RankEnvironment:
    """Where this process sits in a group torchrun started: its variables RANK, WORLD_SIZE, LOCAL_RANK,
    MASTER_ADDR and MASTER_PORT (read once at the step boundary, steps/support/ranks.py)."""

    rank: int
    world_size: int
    local_rank: int
    master_addr: str
    master_port: int


def rank_device(device: torch.device, local_rank: int) -> torch.device:
    """A rank's device: its own GPU on CUDA, the CPU otherwise."""
    if device.type != "cuda":
        return torch.device("cpu")
    torch.cuda.set_device(local_rank)
    return torch.device("cuda", local_rank)


def _join(environment: RankEnvironment, device: torch.device) -> DataParallel:
    dist.init_process_group(
        "nccl" if device.type == "cuda" else "gloo",
        init_method=f"tcp://{environment.master_addr}:{environment.master_port}",
        rank=environment.rank,
        world_size=environment.world_size,
        timeout=COLLECTIVE_TIMEOUT,
    )
    return DataParallel(environment.rank, environment.world_size)


def follow(environment: RankEnvironment, device_type: str) -> None:
    """A rank other than 0 on `device_type` (rank 0's): join the group, take the training's inputs and thread
    count from rank 0 and train on its share of every batch; it writes nothing and returns nothing."""
    device = rank_device(torch.device(device_type), environment.local_rank)
    ranks = _join(environment, device)
    try:
        inputs: list[Any] = [None]
        dist.broadcast_object_list(inputs, src=0, device=device if device.type == "cuda" else None)
        dataset, model_config, train_config, threads = inputs[0]
        pin_threads(threads)
        train_model(dataset, model_config, train_config, None, None, ranks=ranks, device=device)
    finally:
        dist.destroy_process_group()


def _follow_locally(environment: RankEnvironment, device_type: str, failures: Any) -> None:
    """A rank this machine started: `follow`, and on failure its one line on the `failures` queue.

    A stop signal to the process group is rank 0's to handle (it checkpoints at the epoch's end, then ends this
    rank), so this rank ignores SIGTERM and SIGINT; on Linux it dies with rank 0's process.
    """
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    try:
        follow(environment, device_type)
    except BaseException as error:  # noqa: BLE001 (any failure, reported to rank 0 before this rank ends)
        first_line = str(error).splitlines()[0] if str(error) else ""
        failures.put((environment.rank, f"{type(error).__name__}: {first_line}"))
        raise SystemExit(1) from None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _exit_cause(process: BaseProcess) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def train_on_ranks(
    dataset: Dataset,
    model_config: ModelConfig,
    train_config: TrainConfig,
    device: torch.device,
    world_size: int,
    threads: int,
    joined: RankEnvironment | None = None,
    progress: Callable[[EpochRecord, int], None] | None = None,
    structure_progress: Callable[[dict[str, float]], None] | None = None,
    checkpoint: TrainingCheckpoint | None = None,
    stop_requested: Callable[[], str | None] | None = None,
) -> FitResult:
    """`train_model` as rank 0 of `world_size` ranks on `device` (`threads` CPU threads each).

    `joined`: this process's place in a group torchrun started (its rank must be 0); None: start ranks 1 to
    `world_size - 1` on this machine. Raises RankFailedError when another rank died or failed, and ConfigError
    (before any rank starts) when a rank would get no rows of a structure-phase mask slice.
    """
    structure = train_config.structure
    slice_rows = min(structure.batch_size, dataset.features.shape[0]) // structure.mask_samples
    if world_size > slice_rows:
        raise ConfigError(
            f"{world_size} data-parallel ranks but the structure phase's batches hold {slice_rows} rows per mask "
            f"sample on these {dataset.features.shape[0]} training rows (train.structure.batch_size "
            f"{structure.batch_size} / mask_samples {structure.mask_samples}): lower train.devices"
        )
    if joined is None:
        environment = RankEnvironment(0, world_size, 0, "127.0.0.1", _free_port())
        context = mp.get_context("spawn")
        failures = context.SimpleQueue()
        followers = [
            context.Process(
                target=_follow_locally,
                args=(
                    RankEnvironment(rank, world_size, rank, environment.master_addr, environment.master_port),
                    device.type,
                    failures,
                ),
                daemon=True,
            )
            for rank in range(1, world_size)
        ]
        for process in followers:
            process.start()
    else:
        environment, followers, failures = joined, [], None
    device = rank_device(device, environment.local_rank)
    ranks = _join(environment, device)
    finished = False
    try:
        inputs: list[Any] = [(dataset, model_config, train_config, threads)]
        dist.broadcast_object_list(inputs, src=0, device=device if device.type == "cuda" else None)
        result = train_model(
            dataset,
            model_config,
            train_config,
            progress,
            structure_progress,
            checkpoint,
            stop_requested,
            ranks=ranks,
            device=device,
        )
        finished = True
        return result
    except (TrainingStopped, TrainingDivergedError, TrainingOutOfMemoryError):
        raise  # rank 0's own ending, the same on every rank
    except RuntimeError as error:  # a collective failed: which rank left?
        failed = _failed_rank(followers, failures) if joined is None else (-1, str(error).splitlines()[0])
        if failed is None:
            raise
        who = "a rank of the torchrun group" if failed[0] < 0 else f"rank {failed[0]} of {world_size}"
        raise RankFailedError(
            f"{who} failed ({failed[1]}), so the training stopped; rerun the same command to resume from the "
            "last checkpoint (train.checkpoint_every)"
        ) from None
    finally:
        dist.destroy_process_group()
        for process in followers:  # done: they end by themselves; else they wait in a collective: end them
            process.join(timeout=60 if finished else 0)
            if process.is_alive():
                process.kill()
                process.join()


def _failed_rank(followers: Sequence[BaseProcess], failures: Any) -> tuple[int, str] | None:
    """The first rank that reported a failure or ended; None when every started rank is still running."""
    for process in followers:
        process.join(timeout=5)
    if failures is not None and not failures.empty():
        rank, cause = failures.get()
        return int(rank), str(cause)
    for rank, process in enumerate(followers, start=1):
        if process.exitcode not in (None, 0):
            return rank, _exit_cause(process)
    return None
