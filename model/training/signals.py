"""A stop request by signal, shared by the command line and the steps (plain Python, no ZenML).

SIGTERM (what Kubernetes sends on eviction and deletion, and `kill` by default) does not end the process at
once: `install_stop_handler` makes it record the request. A running training saves a checkpoint at the end of
its epoch and stops (model/training/trainer.py), so it ends within a pod's grace period and its next attempt resumes;
any other running step finishes. Then the run stops (steps/support/runtime.py) by raising `RunStopped`; the command
line reports it in one line with exit code 143, as a shell does for a process that SIGTERM ended.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

logger = logging.getLogger(__name__)
EXIT_STOPPED = 128 + signal.SIGTERM  # 143


class RunStopped(BaseException):
    """The run stopped on a signal between two steps. A BaseException: ZenML's local orchestrator carries on
    with the next step after an Exception, and must not here."""


_requested: dict[str, str] = {}


def _on_signal(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    if not _requested:
        _requested["signal"] = name
        logger.warning(
            "%s received: a running training checkpoints at the end of its epoch and stops, any other running "
            "step finishes; then the run stops",
            name,
        )


def install_stop_handler() -> None:
    """Make SIGTERM request a stop (only the main thread can set a handler; elsewhere this does nothing)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_signal)


def stop_requested() -> str | None:
    """The name of the signal that asked the run to stop, None while nobody did."""
    return _requested.get("signal")
