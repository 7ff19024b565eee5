"""The width memory benchmark's front door: bad options and a machine without CUDA get one usage line, exit 2."""

from __future__ import annotations

import pytest
import torch

from bench import width_memory


def test_an_unknown_sdpa_backend_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        width_memory.main(["--sdpa", "cudnn,fast"])
    assert exit_info.value.code == 2
    assert "--sdpa cudnn,fast: unknown backend(s) ['fast']" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without CUDA")
def test_without_cuda_it_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        width_memory.main(["--sizes", "64"])
    assert exit_info.value.code == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err
