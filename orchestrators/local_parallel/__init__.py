"""The `local_parallel` ZenML orchestrator flavor (ZenML 0.92): the local orchestrator, with the steps whose
inputs are ready run side by side in worker processes.

* `flavor` - flavor, config and settings (`orchestrator.local_parallel`: `processes`).
* `orchestrator` - the scheduler: a fork server, one worker process per step, the pipeline's execution mode.
"""
