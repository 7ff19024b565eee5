"""Data-parallel training on two gloo ranks of this CPU (model/training/launch.py, data_parallel.py): reruns give
the same numbers bit for bit, the ranks agree, rank 0 alone writes, a killed rank is one clear error and the
checkpoint resumes the training to the uninterrupted run's weights."""

from __future__ import annotations

import multiprocessing
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from model.artifacts import EpochRecord, FitResult
from model.config import ModelConfig, StructureConfig, TrainConfig
from model.data.tables import Dataset
from model.errors import ConfigError, DeviceUnavailableError, RankFailedError
from model.training.checkpoint import DirectoryStore, TrainingCheckpoint
from model.training.data_parallel import DataParallel
from model.training.device import resolve_world_size
from model.training.launch import train_on_ranks
from model.training.trainer import train_model

EPOCHS = 3


def tiny_train_config(devices: int) -> TrainConfig:
    return TrainConfig(
        epochs=EPOCHS,
        batch_size=32,
        lr=1e-3,
        devices=devices,
        checkpoint_every=1,
        structure=StructureConfig(
            steps_per_round=5, max_rounds=3, min_rounds=1, batch_size=32, orientation_steps=40
        ),
    )


@dataclass(frozen=True)
class WriterStore(DirectoryStore):
    """A checkpoint folder that also notes which process wrote each checkpoint."""

    def write(self, content: bytes) -> None:
        with (self.directory.parent / "writers").open("a") as log:
            log.write(f"{os.getpid()}\n")
        super().write(content)


def two_ranks(
    dataset: Dataset, config: ModelConfig, directory: Path, progress=None
) -> tuple[FitResult, list[int]]:  # type: ignore[no-untyped-def]
    records: list[int] = []

    def on_epoch(record: EpochRecord, epochs: int) -> None:
        records.append(os.getpid())
        if progress is not None:
            progress(record)

    directory.mkdir(parents=True, exist_ok=True)
    checkpoint = TrainingCheckpoint(WriterStore(directory / "checkpoint"), every=1, key="two-ranks")
    result = train_on_ranks(
        dataset, config, tiny_train_config(2), torch.device("cpu"), 2, 1, None, on_epoch, None, checkpoint
    )
    return result, records


def weights(result: FitResult) -> dict[str, torch.Tensor]:
    return {name: value.clone() for name, value in result.model.state_dict().items()}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, tiny_dataset_module, tiny_config_module):  # type: ignore[no-untyped-def]
    directory = tmp_path_factory.mktemp("uninterrupted")
    result, records = two_ranks(tiny_dataset_module, tiny_config_module, directory)
    return result, records, directory


@pytest.fixture(scope="module")
def tiny_dataset_module() -> Dataset:
    from model.data.generator import make_synthetic_pancancer
    from tests.model.conftest import tiny_synthetic_config

    return make_synthetic_pancancer(tiny_synthetic_config())


@pytest.fixture(scope="module")
def tiny_config_module() -> ModelConfig:
    return ModelConfig(d_model=16, n_heads=2, n_blocks=3, d_latent=8, rope_dims=2)


def test_two_ranks_stay_close_to_one_device_and_rank_0_alone_writes(
    uninterrupted, tiny_dataset_module, tiny_config_module
) -> None:  # type: ignore[no-untyped-def]
    """The ranks train on the one-device run's global batches, so the losses stay close to it (not equal: each
    rank's loss is the mean over its half, and V-REx's cohort variance is taken per half). The training ends
    with the ranks' parameters checked equal (DataParallel.check_equal raises otherwise)."""
    result, records, directory = uninterrupted
    one = train_model(tiny_dataset_module, tiny_config_module, tiny_train_config(1), None, None)
    two_losses = [r.loss["total"] for r in result.history]
    one_losses = [r.loss["total"] for r in one.history]
    assert two_losses == pytest.approx(one_losses, abs=5e-3)
    assert two_losses != one_losses  # the two ranks really split the batches
    assert records == [os.getpid()] * EPOCHS  # progress on rank 0 (this process) only
    writers = (directory / "writers").read_text().split()
    assert writers == [str(os.getpid())] * EPOCHS  # after the structure phase, epochs 1 and 2
    assert not (directory / "checkpoint" / "checkpoint.safetensors").exists()  # cleared at the end


def _kill_followers_after_epoch_2(record: EpochRecord) -> None:
    if record.epoch == 2:
        for child in multiprocessing.active_children():
            os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]


def test_a_killed_rank_is_one_line_and_the_checkpoint_resumes_to_the_same_weights(
    uninterrupted, tiny_dataset_module, tiny_config_module, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Rank 1 killed after epoch 2: rank 0 ends with one RankFailedError naming it; the rerun resumes from
    the checkpoint after epoch 2 and ends bit-identical to the uninterrupted run (rerun determinism too)."""
    with pytest.raises(RankFailedError) as failure:
        two_ranks(tiny_dataset_module, tiny_config_module, tmp_path, _kill_followers_after_epoch_2)
    (line,) = str(failure.value).splitlines()
    assert line.startswith("rank 1 of 2 failed (killed by SIGKILL)") and "resume" in line
    resumed, records = two_ranks(tiny_dataset_module, tiny_config_module, tmp_path)
    assert records == [os.getpid()]  # only epoch 3 ran again
    expected = weights(uninterrupted[0])
    for name, value in weights(resumed).items():
        assert torch.equal(value, expected[name]), name
    assert [r.loss for r in resumed.history] == [r.loss for r in uninterrupted[0].history]


def test_shard_gives_every_rank_rows_of_each_slice() -> None:
    index = torch.arange(12)
    assert DataParallel(0, 2).shard(index, slices=2).tolist() == [0, 2, 4, 6, 8, 10]
    assert DataParallel(1, 2).shard(index, slices=2).tolist() == [1, 3, 5, 7, 9, 11]
    assert DataParallel(1, 3).shard(index).tolist() == [1, 4, 7, 10]
    assert DataParallel().shard(index) is index  # one device: today's tensor, untouched
    batches = list(torch.arange(11).split(4))  # 4, 4, 3 rows: on four ranks the last would leave one empty
    assert [len(b) for b in DataParallel(0, 4).every_rank_has_rows(batches)] == [4, 7]
    assert DataParallel(0, 3).every_rank_has_rows(batches) == batches
    assert DataParallel().every_rank_has_rows(batches) is batches


def test_more_devices_than_gpus_is_one_line(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(DeviceUnavailableError, match=r"train.devices is 2 but torch sees 1 CUDA device") as e:
        resolve_world_size(2, torch.device("cuda"))
    assert len(str(e.value).splitlines()) == 1
    assert resolve_world_size("auto", torch.device("cuda")) == 1
    assert resolve_world_size(3, torch.device("cpu")) == 3  # gloo ranks on the CPU
    assert resolve_world_size("auto", torch.device("cpu")) == 1
    assert resolve_world_size(1, torch.device("cpu"), launched=4) == 4  # torchrun's group wins


def test_ranks_without_rows_of_a_mask_slice_are_refused_before_any_starts(
    tiny_dataset_module, tiny_config_module
) -> None:  # type: ignore[no-untyped-def]
    """120 rows, mask samples of 4: 30 rows per mask slice, too few for 32 ranks (one line, nothing spawned)."""
    config = TrainConfig(batch_size=64, devices=32)
    with pytest.raises(ConfigError, match="32 data-parallel ranks but .* 30 rows per mask sample") as error:
        train_on_ranks(tiny_dataset_module, tiny_config_module, config, torch.device("cpu"), 32, 1)
    assert len(str(error.value).splitlines()) == 1
    assert not multiprocessing.active_children()
