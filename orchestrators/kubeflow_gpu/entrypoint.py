"""Step entrypoint configuration of the compiled KFP tasks: ZenML's own, plus two options.

* `--kfp_run_id`. The stock orchestrator puts `KFP_RUN_ID={{$.pipeline_job_name}}` into the container
  environment, but the KFP v2 driver resolves `{{$.pipeline_job_*}}` only in task *input parameters*, not in env
  values, so every run would report the same literal id. The compiled task feeds `{{$.pipeline_job_uuid}}` into
  an input that reaches this option; `run()` exports it as `KFP_RUN_ID` and then runs ZenML's entrypoint as is.
* `--workdir` (optional, never compiled in). ZenML's entrypoint enters `/app`, the image's working directory.
  A compiled task run as a local process (`python -m tools kfp-run`) passes `--workdir` to get a directory of its
  own, as a pod would: the directory is entered in `download_code_if_necessary`, ZenML's hook for placing code
  into the working directory, which it calls right after entering `/app`.

The command stays `python -m zenml.entrypoints.entrypoint`; only `--entrypoint_config_source` points here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from zenml.entrypoints.step_entrypoint_configuration import StepEntrypointConfiguration

KFP_RUN_ID_OPTION = "kfp_run_id"
WORKDIR_OPTION = "workdir"
ENV_KFP_RUN_ID = "KFP_RUN_ID"


def _is_placeholder(value: str | None) -> bool:
    return not value or value.startswith("{{$")


class KubeflowGPUStepEntrypointConfiguration(StepEntrypointConfiguration):
    """`StepEntrypointConfiguration` plus the optional `--kfp_run_id` and `--workdir` options."""

    @classmethod
    def get_entrypoint_options(cls) -> dict[str, bool]:
        """Options of the stock step entrypoint plus the optional run id and working directory.

        Returns:
            Option name -> required.
        """
        return super().get_entrypoint_options() | {KFP_RUN_ID_OPTION: False, WORKDIR_OPTION: False}

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

    def run(self) -> None:
        """Exports the KFP run id as `KFP_RUN_ID`, then runs ZenML's step entrypoint unchanged.

        Raises:
            RuntimeError: If neither `--kfp_run_id` nor `KFP_RUN_ID` holds a resolved run id.
        """
        run_id = self.entrypoint_args.get(KFP_RUN_ID_OPTION)
        if not _is_placeholder(run_id):
            os.environ[ENV_KFP_RUN_ID] = str(run_id)
        elif _is_placeholder(os.environ.get(ENV_KFP_RUN_ID)):
            raise RuntimeError(
                f"No Kubeflow run id: --{KFP_RUN_ID_OPTION} is {run_id!r} and ${ENV_KFP_RUN_ID} is "
                f"{os.environ.get(ENV_KFP_RUN_ID)!r}. The KFP backend resolves {{{{$.pipeline_job_uuid}}}} "
                "in the task input; when running a compiled task by hand, pass a real id."
            )
        super().run()

    def download_code_if_necessary(self) -> None:
        """Enters `--workdir` when given, then lets ZenML place the code there (if it downloads any)."""
        if workdir := self.entrypoint_args.get(WORKDIR_OPTION):
            Path(workdir).mkdir(parents=True, exist_ok=True)
            os.chdir(workdir)
        super().download_code_if_necessary()
