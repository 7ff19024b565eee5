"""Every hostile input of the catalogue (tools/hostile, docs/reliability.md) through the real front door:
refused with one line naming the problem (exit 2), or accepted for its stated reason and then trainable."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from tools.hostile import ACCEPT, all_cases, run_all, summary_table

CASES = all_cases()


def test_the_catalogue_has_over_150_distinct_inputs() -> None:
    assert len(CASES) >= 150
    assert sum(case.expect == ACCEPT for case in CASES) < len(CASES) / 4
    assert all(case.reason for case in CASES if case.expect == ACCEPT)  # every acceptance says why


def test_every_input_is_refused_in_one_line_or_accepted_and_trains() -> None:
    outcomes = run_all(CASES, train=True)
    unexpected = [(o.case.family, o.case.name, o.category, o.line) for o in outcomes if not o.as_expected]
    assert not unexpected, summary_table(outcomes) + "\n" + "\n".join(map(str, unexpected))
    assert not [o for o in outcomes if o.category == "other"]  # a hang (the per-input limit) counts as other


@pytest.mark.parametrize(
    "name", ["gzip bytes named .csv", "1,000 classes on 1,500 rows", "three-node cycle", "alias bomb"]
)
def test_run_refuses_like_validate_before_zenml_starts(name: str, tmp_path: Path, monkeypatch) -> None:
    (case,) = [c for c in CASES if c.name == name]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZENML_CONFIG_PATH", str(tmp_path / "zenml"))
    config = case.build(tmp_path)
    result = CliRunner().invoke(main, ["run", "-c", str(config)])
    assert result.exit_code == 2 and case.expect in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "zenml").exists() and not (tmp_path / "results").exists()
