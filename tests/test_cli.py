"""The `causal-lattice` command line in process (click's runner, the real commands): help, exit codes, one-line
errors. The commands that run pipelines, compile or gate are exercised end to end by the integration tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cli.main import main

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "tests" / "data" / "tiny_config.yaml"
COMMANDS = ["run", "validate", "retrain", "compile", "gate", "bench"]


def test_the_command_line_has_the_six_commands() -> None:
    assert sorted(main.commands) == sorted(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_says_what_it_does_and_its_exit_codes(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Exit codes: 0 " in result.output and " 2 " in result.output
    assert len(main.commands[command].help or "") > 80


def test_validate_accepts_the_repository_configurations() -> None:
    for config in (TINY_CONFIG, REPO / "zenml_config.yaml"):
        result = CliRunner().invoke(main, ["validate", "-c", str(config)])
        assert result.exit_code == 0, result.output
        assert "are valid" in result.output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"split": {"min_group_size": 500}}, "only 360 rows: a train/test split needs at least 1000"),
        ({"split": {"min_group_size": 150}}, "fewer than split.min_group_size=150 rows"),
        # Every cohort has over 60 rows, but a within-cohort split needs 2 x 60: found before any step runs.
        ({"split": {"min_group_size": 60}}, "cohort 'lung' (evaluation.subsets): only 119 rows"),
        ({"evaluation": {"subsets": ["liver"]}}, "liver"),
        ({"train": {"epochz": 1}}, "parameters.experiment.train.epochz: unknown key"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path: Path, change: dict, message: str) -> None:
    document = yaml.safe_load(TINY_CONFIG.read_text())
    for key, value in change.items():
        document["parameters"]["experiment"].setdefault(key, {})
        document["parameters"]["experiment"][key] = {**document["parameters"]["experiment"][key], **value}
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(document))
    for command in ("validate", "run"):
        result = CliRunner().invoke(main, [command, "-c", str(config)])
        assert result.exit_code == 2, result.output
        assert message in result.stderr and result.stderr.startswith("error: ")
        assert "Traceback" not in result.output


def test_bench_outside_a_checkout_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["bench", "--repo", str(tmp_path)])
    assert result.exit_code == 2
    assert "bench/" in result.stderr and "--repo" in result.stderr
