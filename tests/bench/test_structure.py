from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.structure import main


def test_an_unknown_case_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--cases", "er20-nonlinear-3c,no-such-scm"])
    assert exited.value.code == 2 and "no-such-scm" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content", [None, "not json", json.dumps({"no": "suite"}), json.dumps({"suite": [{}]})]
)
def test_structure_baselines_from_a_file_that_is_not_a_suite_record_is_a_usage_error(
    tmp_path: Path, content: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    earlier = tmp_path / "earlier.json"
    if content is not None:
        earlier.write_text(content)
    with pytest.raises(SystemExit) as exited:
        main(["--cases", "er20-nonlinear-3c", "--structure-baselines-from", str(earlier)])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "not a readable suite record" in err and str(earlier) in err
