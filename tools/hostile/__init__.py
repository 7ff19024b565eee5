"""Hostile inputs: a catalogue of bad (and borderline) tables, edge lists, configurations and paths, each run
through the front door (`causal-lattice validate`, in process) and classified.

`python -m tools hostile-inputs` runs the catalogue and prints the table docs/reliability.md shows; it exits 1
when a case ends other than expected (a traceback, a hang, a message that is not one line, a bad input accepted).
Accepted cases also train one short model on their main split, to show they really are usable.
"""

from __future__ import annotations

import re
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.hostile.common import ACCEPT, Case
from tools.hostile.configs import config_cases
from tools.hostile.tables import table_cases

__all__ = ["ACCEPT", "Case", "all_cases", "case_table", "run_all", "run_case", "summary_table"]

# The front door must answer (accept or refuse) within CASE_SECONDS: more is a hang. An accepted input's short
# training is not the front door and gets its own, looser limit: on a loaded 2-core CI machine one epoch of a
# default-sized table took over 90 s (14 s alone), which is load, not a hang.
CASE_SECONDS = 90
TRAIN_SECONDS = 600


@dataclass(frozen=True)
class Outcome:
    case: Case
    category: str  # accepted | refused | other
    line: str
    seconds: float

    @property
    def as_expected(self) -> bool:
        if self.case.expect == ACCEPT:
            return self.category == "accepted"
        return self.category == "refused" and self.case.expect in self.line


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def interrupt(signum: int, frame: Any) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def train_briefly(config: Path) -> None:
    """Train one short model on the main split of an accepted input (what `run` would start with)."""
    from model.data.sources import load_dataset
    from model.run_config import read_run_config
    from model.training.plan import check_training_plan
    from model.training.trainer import evaluate_model, train_model

    experiment = read_run_config(config).require_experiment()
    dataset = load_dataset(experiment.data, experiment.split.min_group_size)
    split = check_training_plan(dataset, experiment, []).main  # memory: checked by `validate` before
    short = experiment.train.model_copy(update={"epochs": 1})
    fit = train_model(split.train, experiment.model, short, progress=None, structure_progress=None)
    evaluate_model(fit.model, split.test)


def run_case(case: Case, directory: Path, train: bool = True) -> Outcome:
    """Build the case in `directory` and put it through `causal-lattice validate`; classify the outcome."""
    from click.testing import CliRunner

    from cli.main import main

    started = time.monotonic()
    try:
        with time_limit(CASE_SECONDS):
            config = case.build(directory)
            result = CliRunner().invoke(main, ["validate", "-c", str(config)])
        if result.exit_code == 0 and result.exception is None and train:
            with time_limit(TRAIN_SECONDS):
                train_briefly(config)
    except Hang as error:
        return Outcome(case, "other", f"hang: {error}", time.monotonic() - started)
    except Exception as error:  # an accepted input that cannot train: a bad input accepted
        return Outcome(case, "other", f"{type(error).__name__}: {error}"[:300], time.monotonic() - started)
    seconds = time.monotonic() - started
    stderr = result.stderr.strip()
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return Outcome(
            case, "other", f"traceback: {type(result.exception).__name__}: {result.exception}", seconds
        )
    if result.exit_code == 0:
        return Outcome(case, "accepted", result.stdout.strip(), seconds)
    one_line = len(stderr.splitlines()) == 1 and stderr.startswith("error: ")
    if result.exit_code == 2 and one_line and "internal error" not in stderr:
        return Outcome(case, "refused", stderr, seconds)
    return Outcome(case, "other", f"exit {result.exit_code}: {stderr[:300]}", seconds)


def all_cases() -> list[Case]:
    cases = table_cases() + config_cases()
    names = [f"{case.family}: {case.name}" for case in cases]
    assert len(names) == len(set(names)), "case names must be distinct"
    return cases


def run_all(cases: list[Case] | None = None, train: bool = True) -> list[Outcome]:
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="hostile-") as root:
        for index, case in enumerate(cases or all_cases()):
            directory = Path(root) / f"{index:03d}"
            directory.mkdir()
            outcomes.append(run_case(case, directory, train))
    return outcomes


def summary_table(outcomes: list[Outcome]) -> str:
    """Markdown: per family, how many cases were accepted, refused with one clear line, or anything else."""
    families: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        families.setdefault(outcome.case.family, []).append(outcome)
    rows = ["| family | inputs | accepted | refused (one line, exit 2) | anything else | as expected |"]
    rows.append("|---|---|---|---|---|---|")
    for family, items in [*families.items(), ("all", outcomes)]:
        count = {c: sum(o.category == c for o in items) for c in ("accepted", "refused", "other")}
        expected = sum(o.as_expected for o in items)
        bold = "**" if family == "all" else ""
        rows.append(
            f"| {bold}{family}{bold} | {len(items)} | {count['accepted']} | {count['refused']} | "
            f"{count['other']} | {expected}/{len(items)} |"
        )
    return "\n".join(rows)


def case_table(outcomes: list[Outcome]) -> str:
    """Markdown: every case, its outcome and the line it got (or the reason it is accepted)."""
    rows = ["| # | family | input | outcome | the line, or why it is accepted |", "|---|---|---|---|---|"]
    for index, outcome in enumerate(outcomes, 1):
        text = outcome.case.reason if outcome.category == "accepted" else outcome.line.removeprefix("error: ")
        text = re.sub(r"/\S*/hostile-[^/]+/\d+", "DIR", text)
        text = text.replace("|", "\\|").replace("\n", " ")
        mark = "" if outcome.as_expected else " **(unexpected)**"
        rows.append(
            f"| {index} | {outcome.case.family} | {outcome.case.name} | {outcome.category}{mark} | {text} |"
        )
    return "\n".join(rows)
