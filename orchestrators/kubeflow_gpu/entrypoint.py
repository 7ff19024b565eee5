"""Step entrypoint configuration used in the compiled KFP tasks.

Why not ZenML's `StepEntrypointConfiguration` as is:

* Run id. The stock orchestrator puts `KFP_RUN_ID={{$.pipeline_job_name}}` into the container *environment*.
  The KFP v2 backend resolves `{{$.pipeline_job_*}}` placeholders only in task *input parameters*
  (`runtimeValue.constant`), not in env values (the driver copies env verbatim), so every run would report the
  same literal orchestrator run id. Here the run id is a component input (`kfp_run_id`, fed with
  `{{$.pipeline_job_uuid}}`) passed as `--kfp_run_id`, and this class exports it as `KFP_RUN_ID` before the
  step runs. The run UUID is also what the KFP UI's `#/runs/details/<id>` URL expects.
* Working directory. ZenML's step entrypoint always `chdir`s to `/app` (creating it). In the image that is the
  right place; when the compiled tasks are run as local processes (`local_run.py`) it would write to `/` and
  fail for non-root users, so `KUBEFLOW_GPU_WORKDIR` may name another directory. Without it the behaviour is
  ZenML 0.92's.

The command stays `python -m zenml.entrypoints.entrypoint`; only `--entrypoint_config_source` points here.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from zenml.entrypoints.step_entrypoint_configuration import STEP_NAME_OPTION, StepEntrypointConfiguration
from zenml.integrations.registry import integration_registry

KFP_RUN_ID_OPTION = "kfp_run_id"
ENV_KFP_RUN_ID = "KFP_RUN_ID"
ENV_WORKDIR = "KUBEFLOW_GPU_WORKDIR"
DEFAULT_WORKDIR = "/app"


def _is_placeholder(value: str | None) -> bool:
    return not value or value.startswith("{{$")


class KubeflowGPUStepEntrypointConfiguration(StepEntrypointConfiguration):
    """`StepEntrypointConfiguration` plus a `--kfp_run_id` option and a configurable working directory."""

    @classmethod
    def get_entrypoint_options(cls) -> dict[str, bool]:
        """Options of the stock step entrypoint plus the optional run id.

        Returns:
            Option name -> required.
        """
        return super().get_entrypoint_options() | {KFP_RUN_ID_OPTION: False}

    @classmethod
    def get_entrypoint_arguments(cls, **kwargs: Any) -> list[str]:
        """Arguments of the stock step entrypoint; `kfp_run_id`, if given, is appended.

        Args:
            **kwargs: `step_name`, `snapshot_id` and optionally `kfp_run_id`.

        Returns:
            The argument list.
        """
        run_id = kwargs.pop(KFP_RUN_ID_OPTION, None)
        arguments = super().get_entrypoint_arguments(**kwargs)
        if run_id is not None:
            arguments += [f"--{KFP_RUN_ID_OPTION}", run_id]
        return arguments

    def _export_run_id(self) -> None:
        run_id = self.entrypoint_args.get(KFP_RUN_ID_OPTION)
        if not _is_placeholder(run_id):
            os.environ[ENV_KFP_RUN_ID] = str(run_id)
        elif _is_placeholder(os.environ.get(ENV_KFP_RUN_ID)):
            raise RuntimeError(
                f"No Kubeflow run id: --{KFP_RUN_ID_OPTION} is {run_id!r} and ${ENV_KFP_RUN_ID} is "
                f"{os.environ.get(ENV_KFP_RUN_ID)!r}. The KFP backend resolves {{{{$.pipeline_job_uuid}}}} "
                "in the task input; when running a compiled task by hand, pass a real id."
            )

    def run(self) -> None:
        """Exports the run id, then does what `StepEntrypointConfiguration.run` (zenml 0.92) does."""
        self._export_run_id()
        snapshot = self.snapshot
        integration_registry.activate_integrations()
        step_name = self.entrypoint_args[STEP_NAME_OPTION]

        workdir = os.environ.get(ENV_WORKDIR) or DEFAULT_WORKDIR
        os.makedirs(workdir, exist_ok=True)
        os.chdir(workdir)
        self.download_code_if_necessary()
        cwd = os.getcwd()
        if cwd not in sys.path:
            sys.path.insert(0, cwd)

        self._run_step(step=self.step, snapshot=snapshot)
        self.post_run(pipeline_name=snapshot.pipeline_configuration.name, step_name=step_name)
