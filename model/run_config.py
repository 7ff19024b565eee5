"""The one reader of a ZenML run configuration file (`zenml_config.yaml`, `configs/*.yaml`).

`read_run_config` parses the YAML once (through the front door for users' files, `model.data.files`), checks its layout (known top-level keys, `steps` a mapping) and
validates `parameters.experiment` with `ExperimentConfig`; every command that takes `-c/--config` uses it,
and reads what else it needs (the MLflow URI, the image) from the returned `RunConfig`, never from the file
again. ZenML reads the same file itself when it runs the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.config import ExperimentConfig, parse_experiment
from model.data.files import read_yaml_file
from model.errors import ConfigError

# What ZenML 0.92 accepts at the top level of a run configuration, plus `extra` (read by our own commands).
ALLOWED_TOP_LEVEL = frozenset(
    {
        "enable_cache",
        "enable_artifact_metadata",
        "enable_artifact_visualization",
        "enable_step_logs",
        "enable_pipeline_logs",
        "parameters",
        "settings",
        "steps",
        "run_name",
        "schedule",
        "extra",
        "model",
        "build",
        "tags",
        "substitutions",
    }
)
# What ZenML 0.92 reads in a step's block under `steps:` (`StepConfigurationUpdate`, which silently ignores any
# other key: a misspelt `setings:` would drop the step's placement without a word).
ALLOWED_STEP_KEYS = frozenset(
    {
        "cache_policy",
        "enable_artifact_metadata",
        "enable_artifact_visualization",
        "enable_cache",
        "enable_step_logs",
        "environment",
        "experiment_tracker",
        "extra",
        "failure_hook_source",
        "model",
        "outputs",
        "parameters",
        "retry",
        "runtime",
        "secrets",
        "settings",
        "step_operator",
        "substitutions",
        "success_hook_source",
    }
)
# What our own commands read under `extra.mlflow`.
ALLOWED_MLFLOW_KEYS = frozenset({"tracking_uri"})
# The local stack's orchestrator's settings (orchestrators/local_parallel/flavor.py, which model/ does not import).
LOCAL_PARALLEL_SETTINGS = "orchestrator.local_parallel"


@dataclass(frozen=True)
class RunConfig:
    """A parsed run configuration; `experiment` is None when the file has no `parameters.experiment`."""

    path: Path
    document: dict[str, Any]
    experiment: ExperimentConfig | None

    def require_experiment(self) -> ExperimentConfig:
        """The validated `parameters.experiment` block; a ConfigError naming the file when it is missing."""
        if self.experiment is None:
            raise ConfigError(
                f"{self.path}: missing `parameters.experiment` (see zenml_config.yaml for the layout)"
            )
        return self.experiment

    def check_step_names(self, known: list[str]) -> None:
        """Every name under `steps:` must be a step the pipeline runs (`known`, from its plan); a ConfigError
        names the unknown ones and lists the valid ones."""
        unknown = [str(name) for name in self._section("steps") if name not in known]
        if unknown:
            raise ConfigError(
                f"{self.path}: `steps` names {unknown}, which this configuration's pipeline does not run (its "
                f"steps: {known}): fix the spelling, or drop the block"
            )

    def _section(self, *keys: str) -> dict[str, Any]:
        section: Any = self.document
        for key in keys:
            section = section.get(key) if isinstance(section, dict) else None
        return section if isinstance(section, dict) else {}

    @property
    def mlflow_tracking_uri(self) -> str | None:
        """`extra.mlflow.tracking_uri`, if set."""
        value = self._section("extra", "mlflow").get("tracking_uri")
        return str(value) if value else None

    @property
    def parent_image(self) -> str | None:
        """`settings.docker.parent_image`, if set."""
        value = self._section("settings", "docker").get("parent_image")
        return str(value) if value else None


def read_run_config(path: str | Path) -> RunConfig:
    """Read and check a run configuration; every problem is a ConfigError naming the file and the key."""
    path = Path(path)
    document = read_yaml_file(path)
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(document).__name__}")
    unknown = sorted(map(str, set(document) - ALLOWED_TOP_LEVEL))
    if unknown:
        raise ConfigError(
            f"{path}: unknown top-level key(s) {unknown} (allowed: {sorted(ALLOWED_TOP_LEVEL)})"
        )
    for key in ("steps", "parameters", "settings", "extra"):
        if not isinstance(document.get(key) or {}, dict):
            raise ConfigError(f"{path}: `{key}` must be a mapping (see zenml_config.yaml for the layout)")
    _check_steps(path, document.get("steps") or {})
    _check_processes(path, document.get("settings") or {})
    _check_extra(path, document.get("extra") or {})
    parameters = document.get("parameters") or {}
    raw = parameters.get("experiment")
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{path}: `parameters.experiment` must be a mapping (see zenml_config.yaml)")
    if "experiment" in parameters and not raw:  # not every setting at a default without a word
        raise ConfigError(
            f"{path}: `parameters.experiment` is empty: set at least its `data` (see zenml_config.yaml for the "
            "layout), or leave -c out to run the default configuration"
        )
    experiment = parse_experiment(raw) if raw else None
    if experiment is not None:
        _check_gpu_counts(path, document.get("steps") or {}, experiment.train.devices)
    return RunConfig(path=path, document=document, experiment=experiment)


def _check_processes(path: Path, settings: dict[str, Any]) -> None:
    """`settings.orchestrator.local_parallel` (the local stack's orchestrator) takes `processes`: how many steps
    run at once, a whole number from 1."""
    block = settings.get(LOCAL_PARALLEL_SETTINGS)
    if block is None:
        return
    key = f"settings.{LOCAL_PARALLEL_SETTINGS}"
    if not isinstance(block, dict) or set(map(str, block)) - {"processes"}:
        raise ConfigError(f"{path}: `{key}` takes one key, `processes`: how many steps run at once")
    value = block.get("processes", 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"{path}: `{key}.processes` is {value!r}: give how many steps run at once, a whole number from 1 "
            "(1: one at a time, in the run's own process; zenml_config.yaml has 2)"
        )


def _check_gpu_counts(path: Path, steps: dict[str, Any], devices: int | str) -> None:
    """A step pod that asks for GPUs (the trainings') must ask for at least `train.devices`: one rank per GPU."""
    if not isinstance(devices, int) or devices == 1:
        return
    for name, block in steps.items():
        resources = ((block or {}).get("settings") or {}).get("resources") or {}
        count = resources.get("gpu_count") if isinstance(resources, dict) else None
        if isinstance(count, int) and 0 < count < devices:
            raise ConfigError(
                f"{path}: `steps.{name}.settings.resources.gpu_count` is {count} but train.devices is {devices} "
                f"(one GPU per rank): set gpu_count: {devices} in the trainings' block (&gpu_training), or lower "
                "train.devices"
            )


def _refuse_unknown_keys(
    path: Path, where: str, block: dict[str, Any], allowed: frozenset[str], why: str = ""
) -> None:
    """A ConfigError naming the keys of the mapping at `where` that are not `allowed`."""
    unknown = sorted(map(str, set(block) - allowed))
    if unknown:
        raise ConfigError(
            f"{path}: `{where}` has unknown key(s) {unknown}{why} (allowed: {sorted(allowed)}): fix the spelling"
        )


def _check_steps(path: Path, steps: dict[str, Any]) -> None:
    for name, block in steps.items():
        if not isinstance(block or {}, dict):
            raise ConfigError(
                f"{path}: `steps.{name}` must be a mapping (see zenml_config.yaml for the layout)"
            )
        _refuse_unknown_keys(
            path, f"steps.{name}", block or {}, ALLOWED_STEP_KEYS, ", which ZenML would ignore"
        )


def _check_extra(path: Path, extra: dict[str, Any]) -> None:
    mlflow = extra.get("mlflow") or {}
    if not isinstance(mlflow, dict):
        raise ConfigError(f"{path}: `extra.mlflow` must be a mapping (see zenml_config.yaml for the layout)")
    _refuse_unknown_keys(path, "extra.mlflow", mlflow, ALLOWED_MLFLOW_KEYS)
    uri = mlflow.get("tracking_uri")
    if uri is not None and not isinstance(uri, str):
        raise ConfigError(
            f"{path}: `extra.mlflow.tracking_uri` must be text (a URI or a path), got {type(uri).__name__}"
        )
