"""The run-level view: after each step, how many of the pipeline run's steps are done and which are left.

`step_finished` is the pipeline's success hook (ZenML runs it in every step's process, after the step's own
code, on every orchestrator: locally and in each Kubeflow pod) and `step_failed` its failure hook. Both read
the run's plan (its snapshot's step configurations) and the finished steps from the ZenML store and log one
plain line, e.g. `run progress [########........] 8/22 steps done (just finished: repro_seed_43); left: ...`,
which reads the same on a terminal and in CI or Kubernetes logs.
"""

from __future__ import annotations

import logging

from zenml import get_step_context
from zenml.client import Client
from zenml.enums import ExecutionStatus

from model.training.progress import bar

logger = logging.getLogger("causal_lattice.run")
SHOWN_LEFT = 6  # names of steps left listed on the line; the rest are counted


def progress_line(planned: list[str], done: set[str], current: str, failed: bool = False) -> str:
    """One line: bar, steps done out of planned, the step that just ended, the steps left."""
    finished = [name for name in planned if name in done or (name == current and not failed)]
    left = [name for name in planned if name not in finished]
    event = f"{'failed' if failed else 'just finished'}: {current}"
    more = f" and {len(left) - SHOWN_LEFT} more" if len(left) > SHOWN_LEFT else ""
    rest = f"left: {', '.join(left[:SHOWN_LEFT])}{more}" if left else "none left"
    return f"run progress {bar(len(finished), len(planned))} {len(finished)}/{len(planned)} steps done ({event}); {rest}"


def _state() -> tuple[list[str], set[str], str]:
    context = get_step_context()
    run = Client().get_pipeline_run(context.pipeline_run.id)
    snapshot = run.snapshot
    planned = list(snapshot.step_configurations) if snapshot is not None else list(run.steps)
    done = {
        name
        for name, step in run.steps.items()
        if step.status in (ExecutionStatus.COMPLETED, ExecutionStatus.CACHED)
    }
    return planned, done, context.step_run.name


def step_finished() -> None:
    """Success hook: log the run's progress after this step."""
    planned, done, current = _state()
    logger.info("%s", progress_line(planned, done, current))


def step_failed(exception: BaseException) -> None:
    """Failure hook: log where the run stopped and what it did not reach."""
    planned, done, current = _state()
    logger.error("%s (%s)", progress_line(planned, done, current, failed=True), type(exception).__name__)
