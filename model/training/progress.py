"""Progress of a training, through `train_model`'s callbacks: a live bar on a terminal, plain lines elsewhere.

`TrainingProgress(name, max_rounds)` gives the two callbacks `train_model` takes: `structure_round(record)` for
each round of the structure phase (round, NLL, acyclicity, edges; at most `max_rounds`) and
`epoch(record, epochs)` for each predictor epoch (loss, accuracy, router utilities). On a terminal it redraws
one line in place (`name [#####.....] 12/20 epochs loss=0.4321 ETA 0:05`); when the stream is no terminal
(CI, Kubernetes logs, ZenML's stored logs) it logs one plain line per round and per epoch instead, with the
same numbers and the ETA, so a log reader sees how much is left. Either way the last line of a training is a
plain one.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

from model.artifacts import EpochRecord

logger = logging.getLogger("causal_lattice.train")
BAR_WIDTH = 24


def format_duration(seconds: float) -> str:
    """`0:05`, `12:30`, `1:02:03`: minutes and seconds, hours when there are any."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    filled = width if total <= 0 else min(width, round(width * done / total))
    return "[" + "#" * filled + "." * (width - filled) + "]"


def is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class TrainingProgress:
    """The progress callbacks of one training (`name`: the invocation, e.g. `repro_seed_43`)."""

    def __init__(
        self,
        name: str,
        max_rounds: int,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.name = name
        self.max_rounds = max_rounds
        self.stream = sys.stderr if stream is None else stream
        self.live = is_terminal(self.stream)
        self._clock = clock
        # Created just before `train_model` starts: the structure phase runs first.
        self._phase = "structure"
        self._phase_started = self._clock()
        self.lines: list[str] = []  # every status line, in order (what a log reader saw)

    def _emit(self, text: str, final: bool) -> None:
        self.lines.append(text)
        if self.live:
            self.stream.write("\r\033[2K" + text + ("\n" if final else ""))
            self.stream.flush()
        else:
            logger.info("%s", text)

    def _eta(self, elapsed: float, done: int, total: int) -> str:
        if done <= 0:
            return "ETA ?"
        return f"ETA {format_duration(elapsed / done * max(total - done, 0))}"

    def structure_round(self, record: dict[str, float]) -> None:
        """One round of the structure phase; the phase stops early once the lattice settles, so the ETA is
        the most it can take (up to `max_rounds`)."""
        elapsed = self._clock() - self._phase_started
        done = int(record["round"])
        text = (
            f"{self.name} structure {bar(done, self.max_rounds)} round {done}/<={self.max_rounds} "
            f"nll={record['nll']:.3f} h={record['acyclicity']:.2e} edges={int(record['edges'])} "
            f"dag={bool(record['is_dag'])} {self._eta(elapsed, done, self.max_rounds)} (at most)"
        )
        self._emit(text, final=False)

    def epoch(self, record: EpochRecord, epochs: int) -> None:
        """One predictor epoch: bar, loss, train accuracy, router utilities, ETA."""
        if self._phase != "predictor":
            if self.live and self.lines:
                self.stream.write("\n")  # keep the structure phase's last line
            self._phase, self._phase_started = "predictor", self._clock() - record.seconds
        elapsed = self._clock() - self._phase_started
        accuracy = "" if record.train_accuracy is None else f" acc={record.train_accuracy:.3f}"
        final = record.epoch >= epochs
        tail = f"took {format_duration(elapsed)}" if final else self._eta(elapsed, record.epoch, epochs)
        text = (
            f"{self.name} predictor {bar(record.epoch, epochs)} epoch {record.epoch}/{epochs} "
            f"loss={record.loss['total']:.4f}{accuracy} "
            f"util={'/'.join(f'{u:.2f}' for u in record.utility_per_block)} {tail}"
        )
        self._emit(text, final=final)
        if final and self.live:
            logger.info("%s", text)  # the stored logs keep the training's last line
