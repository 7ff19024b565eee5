"""What a training's rank does with the others (docs/design.md, "Data-parallel training"): take its share of
each global batch, average the gradients, agree on the epoch's sums and on rank 0's state.

Every rank draws the same global batch from the same generator and keeps every `world_size`-th row of it, so
N ranks see the batches one device would see; the gradients are averaged with one all-reduce per step, so
every rank takes the same optimiser step and the ranks' parameters stay equal. `ONE_DEVICE` (world size 1)
does none of this: its every method returns its input untouched, and a one-device training runs today's code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar, cast

import torch
import torch.distributed as dist
from torchmetrics import Metric

T = TypeVar("T")


@dataclass(frozen=True)
class DataParallel:
    """This process's place among a training's ranks (the process group is initialised by the launcher)."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_writer(self) -> bool:
        """Rank 0 alone writes: progress, checkpoints, the result."""
        return self.rank == 0

    def shard(self, index: torch.Tensor, slices: int = 1) -> torch.Tensor:
        """This rank's rows of a global batch: every `world_size`-th row of each of its `slices` equal slices
        (a batch drawn cohort by cohort, or slice by mask sample, gives every rank rows of each)."""
        if self.world_size == 1:
            return index
        return index.view(slices, -1)[:, self.rank :: self.world_size].reshape(-1)

    def every_rank_has_rows(self, batches: list[torch.Tensor]) -> list[torch.Tensor]:
        """An epoch's batches with a trailing batch of fewer rows than ranks folded into the one before, so no
        rank's share is empty."""
        if self.world_size == 1 or len(batches) < 2 or len(batches[-1]) >= self.world_size:
            return batches
        return [*batches[:-2], torch.cat(batches[-2:])]

    def average_gradients(self, parameters: list[torch.nn.Parameter]) -> None:
        """Replace each gradient by its mean over the ranks, in one all-reduce. A parameter that got no gradient
        on any rank keeps none (AdamW skips it, as on one device); one that got one on some ranks only counts
        zero on the others."""
        if self.world_size == 1:
            return
        grads = [p.grad for p in parameters]
        had_gradient = torch.tensor([g is not None for g in grads], device=parameters[0].device)
        flat = torch.cat(
            [
                (g if g is not None else torch.zeros_like(p)).reshape(-1)
                for g, p in zip(grads, parameters, strict=True)
            ]
            + [had_gradient.to(parameters[0].dtype)]
        )
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        had = flat[-len(parameters) :] > 0
        for parameter, has in zip(parameters, had.tolist(), strict=True):
            size = parameter.numel()
            if has:
                parameter.grad = flat[offset : offset + size].view_as(parameter).to(parameter.dtype)
            offset += size

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The ranks' mean of `values` (a stack of the epoch's sums), the same on every rank."""
        if self.world_size == 1:
            return values
        values = values.clone()
        dist.all_reduce(values)
        return values / self.world_size

    def sync(self, metric: Metric) -> None:
        """Put every rank's state of a torchmetrics metric (made with `sync_on_compute=False`) into each."""
        if self.world_size > 1:
            metric.sync(should_sync=True, distributed_available=lambda: True)

    def from_writer(self, value: T) -> T:
        """Rank 0's `value` on every rank (a loaded checkpoint, the structure fit)."""
        if self.world_size == 1:
            return value
        holder: list[T | None] = [value if self.is_writer else None]
        dist.broadcast_object_list(holder, src=0)
        return cast(T, holder[0])

    def copy_writer_state(self, model: torch.nn.Module, generator: torch.Generator) -> None:
        """Rank 0's parameters, buffers and generator state in every rank: the ranks start the predictor's
        epochs equal even where a CUDA kernel of the structure phase's analysis was not deterministic."""
        if self.world_size == 1:
            return
        for tensor in [*model.parameters(), *model.buffers()]:
            dist.broadcast(tensor.data, src=0)
        generator.set_state(self.from_writer(generator.get_state()))

    def check_equal(self, model: torch.nn.Module) -> None:
        """Raise unless every rank holds the same parameters (bit for bit): the ranks took the same steps."""
        if self.world_size == 1:
            return
        with torch.no_grad():
            digest = torch.stack([p.detach().double().sum() for p in model.parameters()])
            gathered = [torch.empty_like(digest) for _ in range(self.world_size)]
            dist.all_gather(gathered, digest)
        differing = [rank for rank, other in enumerate(gathered) if not torch.equal(other, gathered[0])]
        if differing:
            raise RuntimeError(
                f"the data-parallel ranks' parameters differ after training (ranks {differing} from rank 0): "
                "their steps were not the same"
            )


ONE_DEVICE = DataParallel()
