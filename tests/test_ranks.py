"""torchrun's environment, read once at the step boundary (steps/support/ranks.py): a process torchrun started
is given its place in the group; a half-set or garbled environment is one line naming the variables."""

from __future__ import annotations

import pytest

from model.training.launch import RankEnvironment
from steps.support.ranks import torchrun_environment

TORCHRUN = {
    "RANK": "3",
    "WORLD_SIZE": "8",
    "LOCAL_RANK": "1",
    "MASTER_ADDR": "trainer-0",
    "MASTER_PORT": "29500",
}


def test_torchruns_variables_become_a_rank_environment() -> None:
    assert torchrun_environment(TORCHRUN) == RankEnvironment(3, 8, 1, "trainer-0", 29500)
    assert torchrun_environment({"PATH": "/bin"}) is None  # not started by torchrun: ranks start here


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"RANK": "0", "WORLD_SIZE": "2"}, r"\['LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'\] not set"),
        (TORCHRUN | {"MASTER_PORT": "http"}, "must be numbers"),
    ],
)
def test_a_broken_torchrun_environment_is_one_line(environment: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message) as error:
        torchrun_environment(environment)
    assert len(str(error.value).splitlines()) == 1
