"""torchrun's environment, read once at the step boundary: where this process sits in a group that torchrun or
a Kubeflow Trainer job started (docs/design.md, "Data-parallel training").

`python -m steps.support.ranks ENTRYPOINT ARGS...` is the command a Trainer job's torchrun runs on every rank
(`causal-lattice compile --train-job`): rank 0 runs the ZenML step entrypoint with ARGS (the training step,
which trains as rank 0 of the group); every other rank follows it (model/training/launch.py `follow`): it
takes the training's inputs from rank 0 and writes nothing, so the step runs once in ZenML.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import torch

from model.training.launch import RankEnvironment, follow

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def torchrun_environment(environ: Mapping[str, str] = os.environ) -> RankEnvironment | None:
    """This process's place in a torchrun group, or None when torchrun did not start it (no RANK/WORLD_SIZE).

    Raises:
        ValueError: torchrun's variables are partly set or not numbers (one line naming them).
    """
    if "RANK" not in environ and "WORLD_SIZE" not in environ:
        return None
    missing = [name for name in TORCHRUN_VARIABLES if not environ.get(name)]
    if missing:
        raise ValueError(
            f"torchrun's environment is incomplete: {missing} not set (RANK and WORLD_SIZE are); start the "
            "training with torchrun or a Kubeflow Trainer job, or unset RANK and WORLD_SIZE"
        )
    try:
        return RankEnvironment(
            rank=int(environ["RANK"]),
            world_size=int(environ["WORLD_SIZE"]),
            local_rank=int(environ["LOCAL_RANK"]),
            master_addr=environ["MASTER_ADDR"],
            master_port=int(environ["MASTER_PORT"]),
        )
    except ValueError:
        values = {name: environ[name] for name in TORCHRUN_VARIABLES}
        raise ValueError(f"torchrun's variables must be numbers where they count: {values}") from None


def main(argv: list[str]) -> None:
    """Rank 0: the ZenML step entrypoint with `argv`; any other rank: follow rank 0's training."""
    environment = torchrun_environment()
    if environment is None or environment.rank == 0:
        from zenml.entrypoints.entrypoint import main as zenml_entrypoint

        sys.argv = ["zenml.entrypoints.entrypoint", *argv]
        zenml_entrypoint()
        return
    # The group's backend must be rank 0's: NCCL where the pod has GPUs (the training steps' train.device:
    # auto or cuda), else gloo.
    follow(environment, "cuda" if torch.cuda.is_available() else "cpu")


if __name__ == "__main__":
    main(sys.argv[1:])
