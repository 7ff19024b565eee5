"""The `local_parallel` orchestrator: ZenML's local orchestrator, with independent steps run side by side.

With `processes` above 1, every step runs in a worker process as soon as its upstream steps have finished, at
most `processes` at a time, and the run's process only schedules. A step runs there exactly as the local
orchestrator runs it (ZenML's `launch_step` with the same snapshot and run id), so caching, artifacts, step
logs and run statuses are ZenML's own; each step seeds its own numerics, so the order in which steps finish
changes no result.

Workers fork from a `multiprocessing` fork server that imports ZenML and the steps' modules once per run's
process: a worker starts in well under a second instead of the seconds a fresh interpreter takes to import
torch and ZenML, and no worker forks from the run's process, whose threads and database connections a fork
would copy. A worker gets the run's environment and working directory as they are when it starts.

Failures follow the execution mode as on the local orchestrator: a failed step's downstream steps are skipped;
FAIL_FAST re-raises the first failed step's exception, the other modes end with one error naming the failed
steps. An exception that is not an `Exception` (a `KeyboardInterrupt`, a stop signal's) ends the run: no new
step starts, the running ones finish, and it is re-raised in the run's process.

SIGTERM to the run's process is passed on to every running worker, then to the handler that was installed
before (the pipeline's own stop handling); no step starts in a worker after it, and the steps left run one at a
time in the run's own process, as on the local orchestrator, where that handler decides whether they do any work.
"""

from __future__ import annotations

import graphlib
import multiprocessing
import os
import pickle
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import forkserver
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import TYPE_CHECKING, Any, cast
from uuid import uuid4

from zenml.constants import ENV_ZENML_CUSTOM_SOURCE_ROOT
from zenml.enums import ExecutionMode
from zenml.logger import get_logger
from zenml.orchestrators.local.local_orchestrator import LocalOrchestrator
from zenml.utils import source_utils
from zenml.utils.env_utils import temporary_environment

from orchestrators.local_parallel.flavor import LocalParallelOrchestratorSettings

if TYPE_CHECKING:
    from zenml.config.base_settings import BaseSettings
    from zenml.models import PipelineRunResponse, PipelineSnapshotResponse
    from zenml.orchestrators import SubmissionResult
    from zenml.stack import Stack

logger = get_logger(__name__)

#: Modules every worker needs, imported once by the fork server (beside the steps' own modules).
WORKER_PRELOAD = ("zenml.client", "zenml.execution.step.utils")
#: Seconds a worker gets to end after SIGTERM when the run's process itself fails, before it is killed.
WORKER_GRACE_S = 30.0


@dataclass
class StepSchedule:
    """Which steps may start, from the pipeline's upstream relation (pure bookkeeping, no processes).

    Args:
        upstream: Each step's name -> the names of the steps it waits for, in the pipeline's order.
    """

    upstream: Mapping[str, frozenset[str]]
    completed: set[str] = field(default_factory=set)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    started: set[str] = field(default_factory=set)

    def ready(self) -> list[str]:
        """Steps not started yet whose upstream steps all completed: first those that more steps wait on
        (directly or through others; such a step is on the run's longest path), then in the pipeline's order."""
        waiting = self.downstream_counts()
        ready = [
            name
            for name, before in self.upstream.items()
            if name not in self.started and before <= self.completed
        ]
        return sorted(ready, key=lambda name: -waiting[name])

    def downstream_counts(self) -> dict[str, int]:
        """Each step -> how many steps wait on it, directly or through others."""
        below: dict[str, set[str]] = {name: set() for name in self.upstream}
        for name in reversed(list(graphlib.TopologicalSorter(self.upstream).static_order())):
            for before in self.upstream[name]:
                below[before] |= below[name] | {name}
        return {name: len(steps) for name, steps in below.items()}

    def skip_after_failures(self) -> list[str]:
        """Mark the steps that wait on a failed or skipped step as skipped; returns the newly skipped ones."""
        newly: list[str] = []
        changed = True
        while changed:
            changed = False
            for name, before in self.upstream.items():
                if name not in self.started and before & {*self.failed, *self.skipped}:
                    self.started.add(name)
                    self.skipped.append(name)
                    newly.append(name)
                    changed = True
        return newly


def _worker_modules(snapshot: PipelineSnapshotResponse, stack: Stack) -> list[str]:
    """What every worker imports, for the fork server to import once: the steps' and their materializers'
    modules, the stack components' implementations and the store's (seconds per worker otherwise: mlflow
    alone is 1.2 s, ZenML's SQL store 1.5 s)."""
    from zenml.client import Client

    modules = {*WORKER_PRELOAD, type(Client().zen_store).__module__}
    modules |= {type(component).__module__ for component in stack.components.values()}
    for step in snapshot.step_configurations.values():
        modules.add(step.spec.source.module)
        modules |= {
            source.module for output in step.config.outputs.values() for source in output.materializer_source
        }
    return sorted(modules)


def portable_error(error: BaseException) -> BaseException:
    """`error` if it survives pickling (to be re-raised in the run's process), else a RuntimeError naming it."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


def _run_step_in_worker(
    snapshot: PipelineSnapshotResponse,
    step_name: str,
    orchestrator_run_id: str,
    retry: bool,
    environment: Mapping[str, str],
    results: Connection,
) -> None:
    """A worker's whole life: launch one step as the local orchestrator does; send None or the step's error."""
    # Until the step installs its own handler, a SIGTERM passed on by the run's process must not kill the
    # worker half-way through ZenML's bookkeeping: the step then runs to its end.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.environ.clear()
    os.environ.update(environment)
    from zenml.client import Client
    from zenml.config.global_config import GlobalConfiguration
    from zenml.execution.step.utils import launch_step

    # The fork server imported ZenML under its own start-up environment: read the configuration and open the
    # store afresh, under this run's (ZENML_CONFIG_PATH and the store's URL may differ between runs).
    GlobalConfiguration._reset_instance()
    Client._reset_instance()
    try:
        launch_step(
            snapshot=snapshot,
            step=snapshot.step_configurations[step_name],
            orchestrator_run_id=orchestrator_run_id,
            retry=retry,
        )
    except BaseException as error:
        results.send(portable_error(error))
        os._exit(1)
    results.send(None)


@dataclass
class _Worker:
    process: BaseProcess
    results: Connection


class LocalParallelOrchestrator(LocalOrchestrator):
    """ZenML's local orchestrator, with up to `processes` steps run at once in worker processes."""

    @property
    def settings_class(self) -> type[BaseSettings]:
        """Settings class (key `orchestrator.local_parallel`)."""
        return LocalParallelOrchestratorSettings

    def submit_pipeline(
        self,
        snapshot: PipelineSnapshotResponse,
        stack: Stack,
        base_environment: dict[str, str],
        step_environments: dict[str, dict[str, str]],
        placeholder_run: PipelineRunResponse | None = None,
    ) -> SubmissionResult | None:
        """Run the pipeline: in this process with `processes: 1`, else in worker processes.

        Args:
            snapshot: The pipeline snapshot to run.
            stack: The stack it runs on.
            base_environment: Environment shared by all steps.
            step_environments: Each step's environment.
            placeholder_run: The run's placeholder, if any.

        Returns:
            None: the run has finished when this returns.

        Raises:
            ValueError: If the pipeline has an init hook, whose state worker processes cannot share.
            RuntimeError: If a step failed.
        """
        settings = cast(LocalParallelOrchestratorSettings, self.get_settings(snapshot))
        if settings.processes == 1:
            return super().submit_pipeline(
                snapshot, stack, base_environment, step_environments, placeholder_run
            )
        if snapshot.pipeline_configuration.init_hook_source:
            raise ValueError(
                "the pipeline has an init hook, whose state steps in worker processes cannot share: set "
                "`settings.orchestrator.local_parallel.processes: 1` to run every step in this process"
            )
        self._orchestrator_run_id = str(uuid4())
        start = time.time()
        try:
            self._run_in_workers(snapshot, stack, step_environments, settings.processes)
        finally:
            self._orchestrator_run_id = None
        logger.info(
            "Pipeline run has finished in %.0f s (%d steps at a time).",
            time.time() - start,
            settings.processes,
        )
        return None

    def _run_in_workers(
        self,
        snapshot: PipelineSnapshotResponse,
        stack: Stack,
        step_environments: Mapping[str, Mapping[str, str]],
        processes: int,
    ) -> None:
        steps = snapshot.step_configurations
        schedule = StepSchedule({name: frozenset(step.spec.upstream_steps) for name, step in steps.items()})
        mode = snapshot.pipeline_configuration.execution_mode
        context = multiprocessing.get_context("forkserver")
        preload = _worker_modules(snapshot, stack)
        context.set_forkserver_preload(preload)
        # ZenML resolves the steps' sources against the source root when their modules are imported, and finds it
        # from the main module, which the fork server does not have (`-c`): name it in the server's environment.
        source_root = source_utils.get_source_root()
        with temporary_environment({ENV_ZENML_CUSTOM_SOURCE_ROOT: source_root}):
            forkserver.ensure_running()
        running: dict[str, _Worker] = {}
        first_error: BaseException | None = None
        ending: BaseException | None = None  # not an Exception: no new step starts, then it is re-raised
        with _passing_sigterm_on(running) as stop:
            try:
                while True:
                    if not (stop or ending or (first_error and mode != ExecutionMode.CONTINUE_ON_FAILURE)):
                        for name in schedule.ready()[: processes - len(running)]:
                            schedule.started.add(name)
                            running[name] = self._start_worker(
                                context, snapshot, name, step_environments[name]
                            )
                    if not running:
                        break
                    for name in self._finished(running):
                        worker = running.pop(name)
                        error = self._outcome(name, worker)
                        if error is None:
                            schedule.completed.add(name)
                        elif isinstance(error, Exception):
                            logger.error("Step %s failed: %s", name, error)
                            schedule.failed.append(name)
                            first_error = first_error or error
                        else:
                            schedule.failed.append(name)
                            ending = ending or error
                    for name in schedule.skip_after_failures():
                        logger.warning("Skipping step %s: an upstream step failed or was skipped.", name)
            finally:
                self._end_workers(running)
        if ending is not None:
            raise ending
        while stop and (ready := schedule.ready()):  # what is left runs here, as on the local orchestrator
            name = ready[0]
            schedule.started.add(name)
            try:
                with temporary_environment(dict(step_environments[name])):
                    self.run_step(step=steps[name])
            except Exception as error:
                logger.exception("Step %s failed.", name)
                schedule.failed.append(name)
                first_error = first_error or error
                schedule.skip_after_failures()
                continue
            schedule.completed.add(name)
        if schedule.failed and mode == ExecutionMode.FAIL_FAST and first_error is not None:
            raise first_error
        if schedule.failed:
            raise RuntimeError(
                f"Pipeline run has failed due to failure in step(s): {', '.join(schedule.failed)}"
            )

    def _start_worker(
        self, context: Any, snapshot: PipelineSnapshotResponse, name: str, environment: Mapping[str, str]
    ) -> _Worker:
        receiving, sending = context.Pipe(duplex=False)
        process = context.Process(
            target=_run_step_in_worker,
            name=f"step-{name}",
            args=(
                snapshot,
                name,
                self.get_orchestrator_run_id(),
                not self.config.handles_step_retries,
                {**os.environ, **environment},
                sending,
            ),
        )
        process.start()
        sending.close()  # the worker holds the only sending end: its exit ends the connection
        logger.info("Step %s started in worker process %s.", name, process.pid)
        return _Worker(process, receiving)

    @staticmethod
    def _finished(running: Mapping[str, _Worker]) -> list[str]:
        """Wait until at least one worker has sent its outcome or ended; their step names."""
        ready = set(wait([worker.results for worker in running.values()]))
        return [name for name, worker in running.items() if worker.results in ready]

    @staticmethod
    def _outcome(name: str, worker: _Worker) -> BaseException | None:
        """The worker's outcome: None when the step succeeded, else its error (or why the worker died)."""
        try:
            error: BaseException | None = worker.results.recv()
        except EOFError:
            worker.process.join()
            return RuntimeError(
                f"step {name}'s worker process ended with exit code {worker.process.exitcode} before reporting "
                "an outcome (killed, or out of memory?)"
            )
        finally:
            worker.results.close()
        worker.process.join()
        return error

    @staticmethod
    def _end_workers(running: Mapping[str, _Worker]) -> None:
        """Only when the run's process fails while workers run: SIGTERM them, then kill what is left."""
        for worker in running.values():
            worker.process.terminate()
        deadline = time.monotonic() + WORKER_GRACE_S
        for worker in running.values():
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()


@contextmanager
def _passing_sigterm_on(running: Mapping[str, _Worker]) -> Iterator[list[int]]:
    """While the workers run, SIGTERM goes to each running worker and then to the handler installed before.

    Yields a list that holds the signal's number once one arrived (empty, so falsy, until then). Outside the
    main thread no handler can be installed and this yields an empty list."""
    received: list[int] = []
    try:
        previous = signal.getsignal(signal.SIGTERM)
        signal.signal(
            signal.SIGTERM, lambda signum, frame: _pass_on(signum, frame, running, previous, received)
        )
    except ValueError:  # not the main thread
        yield received
        return
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)


def _pass_on(
    signum: int,
    frame: FrameType | None,
    running: Mapping[str, _Worker],
    previous: Callable[[int, FrameType | None], Any] | int | None,
    received: list[int],
) -> None:
    received.append(signum)
    for worker in running.values():
        if worker.process.pid is not None:
            os.kill(worker.process.pid, signum)
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_DFL:
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)
