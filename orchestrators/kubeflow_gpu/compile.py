"""Compile a ZenML pipeline to a Kubeflow Pipelines YAML without any Kubeflow or ZenML server.

    python -m orchestrators.kubeflow_gpu.compile \\
        --config zenml_config.yaml --output build/kubeflow/causal_experiment_pipeline.yaml \\
        [--pipeline pipelines.causal_experiment:causal_experiment_pipeline] [--image IMAGE] \\
        [--schedule-cron "0 3 * * *"] [--dag-json build/kubeflow/dag.json]

What it does (idempotent; works on a fresh local ZenML store):

1. registers the `kubeflow_gpu` flavor if the store does not know it;
2. creates or updates the orchestrator `kfp-compile-orchestrator` (`compile_only: true`, the output path and
   the image) and the stack `kfp-compile` (that orchestrator + the `default` artifact store, or the one named
   by `--artifact-store`);
3. runs the pipeline on that stack with `enable_cache=False`, so that the orchestrator receives every step and
   writes the YAML (a fully cached run would never reach the orchestrator), then re-activates the stack that
   was active before.

The run uses whatever ZenML store is configured (`ZENML_CONFIG_PATH` / `zenml login`). The YAML's tasks
refer to the snapshot in *that* store (`--snapshot_id`): compiled on a local store it can be executed locally
(`orchestrators.kubeflow_gpu.local_run`); for a cluster compile while connected to the ZenML server the pods
use. `ZENML_ANALYTICS_OPT_IN` defaults to false here (no network is needed).

The image is, in order: `--image`, `$KFP_IMAGE`, the config's `settings.docker.parent_image`, or
`causal-lattice:latest`. It is used as is: nothing is built or pushed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from zenml.config.schedule import Schedule
    from zenml.pipelines.pipeline_definition import Pipeline

FLAVOR_SOURCE = "orchestrators.kubeflow_gpu.flavor.KubeflowGPUOrchestratorFlavor"
STACK_NAME = "kfp-compile"
ORCHESTRATOR_NAME = "kfp-compile-orchestrator"
ARTIFACT_STORE_NAME = "default"
DEFAULT_PIPELINE = "pipelines.causal_experiment:causal_experiment_pipeline"
DEFAULT_IMAGE = "causal-lattice:latest"
REPO_ROOT = Path(__file__).resolve().parents[2]


class CompileError(RuntimeError):
    """A usage problem (bad path, config or pipeline reference) reported without a traceback by the CLI."""


def read_run_config(config_path: str | Path) -> dict[str, Any]:
    """Reads and sanity-checks a ZenML run configuration file.

    Args:
        config_path: Path of the YAML file.

    Returns:
        The parsed mapping.

    Raises:
        CompileError: If the file is missing, not YAML, or not a mapping.
    """
    path = Path(config_path)
    if not path.is_file():
        raise CompileError(f"Run configuration {str(path)!r} does not exist (cwd: {os.getcwd()}).")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise CompileError(f"Run configuration {str(path)!r} is not valid YAML: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CompileError(f"Run configuration {str(path)!r} must be a mapping, got {type(data).__name__}.")
    steps = data.get("steps") or {}
    if not isinstance(steps, dict):
        raise CompileError(f"{str(path)!r}: `steps` must map step invocation ids to their configuration.")
    return data


def load_pipeline(reference: str) -> Pipeline:
    """Imports `module:attribute` and checks that it is a ZenML pipeline.

    Args:
        reference: e.g. `pipelines.causal_experiment:causal_experiment_pipeline`.

    Returns:
        The pipeline object.

    Raises:
        CompileError: If it cannot be imported or is no pipeline.
    """
    from zenml.pipelines.pipeline_definition import Pipeline

    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise CompileError(f"Pipeline reference {reference!r} must look like 'package.module:pipeline_name'.")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise CompileError(f"Cannot import pipeline module {module_name!r}: {e}") from e
    pipeline = getattr(module, attribute, None)
    if not isinstance(pipeline, Pipeline):
        raise CompileError(f"{reference!r} is {type(pipeline).__name__}, not a ZenML pipeline (@pipeline).")
    return pipeline


def check_output_path(output_path: str | Path) -> Path:
    """Resolves the output path and checks that it can be a pipeline file.

    Raises:
        CompileError: If it does not end in .yaml/.yml or is a directory.
    """
    output = Path(output_path).expanduser().resolve()
    if output.suffix not in (".yaml", ".yml"):
        raise CompileError(f"The output path must end in .yaml or .yml, got {str(output_path)!r}.")
    if output.is_dir():
        raise CompileError(f"The output path {str(output_path)!r} is a directory.")
    return output


def ensure_compile_stack(output_path: Path, image: str, artifact_store: str = ARTIFACT_STORE_NAME) -> None:
    """Registers the flavor and creates/updates the compile-only orchestrator and the `kfp-compile` stack.

    Args:
        output_path: Where the orchestrator writes the YAML.
        image: Container image of the compiled tasks.
        artifact_store: Artifact store of the stack (the step pods write their artifacts there).
    """
    from zenml.client import Client
    from zenml.enums import StackComponentType

    from orchestrators.kubeflow_gpu.flavor import KUBEFLOW_GPU_ORCHESTRATOR_FLAVOR

    client = Client()
    orchestrator = StackComponentType.ORCHESTRATOR
    if not client.zen_store.list_flavors(
        _flavor_filter(name=KUBEFLOW_GPU_ORCHESTRATOR_FLAVOR, type=orchestrator)
    ).items:
        client.create_flavor(source=FLAVOR_SOURCE, component_type=orchestrator)

    # ZenML annotates `configuration` as Dict[str, str] but validates it with the config class.
    configuration: dict[str, Any] = {
        "compile_only": True,
        "pipeline_output_path": str(output_path),
        "image": image,
    }
    try:
        client.get_stack_component(orchestrator, ORCHESTRATOR_NAME, allow_name_prefix_match=False)
        client.update_stack_component(ORCHESTRATOR_NAME, orchestrator, configuration=configuration)
    except KeyError:
        client.create_stack_component(
            name=ORCHESTRATOR_NAME,
            flavor=KUBEFLOW_GPU_ORCHESTRATOR_FLAVOR,
            component_type=orchestrator,
            configuration=configuration,
        )
    store_type = StackComponentType.ARTIFACT_STORE
    try:
        store_id = client.get_stack_component(store_type, artifact_store, allow_name_prefix_match=False).id
    except KeyError as e:
        raise CompileError(f"No artifact store named {artifact_store!r} is registered.") from e
    try:
        stack = client.get_stack(STACK_NAME, allow_name_prefix_match=False)
    except KeyError:
        client.create_stack(
            name=STACK_NAME, components={orchestrator: ORCHESTRATOR_NAME, store_type: artifact_store}
        )
        return
    if stack.components[store_type][0].id != store_id:
        client.update_stack(STACK_NAME, component_updates={store_type: [artifact_store]})


def _flavor_filter(**kwargs: Any) -> Any:
    from zenml.models import FlavorFilter

    return FlavorFilter(**kwargs)


def compile_pipeline(
    pipeline: Pipeline,
    config_path: str,
    output_path: str,
    image: str,
    *,
    schedule: Schedule | None = None,
    source_root: str | Path | None = None,
    artifact_store: str = ARTIFACT_STORE_NAME,
) -> Path:
    """Compiles `pipeline` with the run configuration `config_path` into a KFP YAML at `output_path`.

    Args:
        pipeline: The ZenML pipeline.
        config_path: ZenML run configuration (settings per step invocation id, parameters, ...).
        output_path: Where to write the YAML (`.yaml`/`.yml`); a schedule's spec goes next to it.
        image: Container image for every task (unless a step's `image` setting overrides it).
        schedule: Optional ZenML schedule; the config file's `schedule` is used otherwise.
        source_root: Directory ZenML resolves step sources against (default: the current directory).
        artifact_store: Registered artifact store for the `kfp-compile` stack (default: `default`, local);
            the compiled steps read and write artifacts there.

    Returns:
        The path of the written YAML.

    Raises:
        CompileError: For a bad config/output path, or if the orchestrator did not write the YAML.
    """
    from zenml.client import Client
    from zenml.utils import source_utils

    read_run_config(config_path)
    output = check_output_path(output_path)
    output.parent.mkdir(parents=True, exist_ok=True)
    before = output.stat().st_mtime_ns if output.exists() else None

    root = Path(source_root or os.getcwd()).resolve()
    source_utils.set_custom_source_root(str(root))
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))

    ensure_compile_stack(output, image, artifact_store)
    client = Client()
    previous_stack = client.active_stack_model.id
    client.activate_stack(STACK_NAME)
    try:
        options: dict[str, Any] = {"config_path": str(config_path), "enable_cache": False}
        if schedule is not None:
            options["schedule"] = schedule
        pipeline.with_options(**options)()
    finally:
        client.activate_stack(previous_stack)

    if not output.exists() or output.stat().st_mtime_ns == before:
        raise CompileError(
            f"The orchestrator did not write {str(output)!r}. Does the run configuration set "
            "`settings.orchestrator.kubeflow_gpu.pipeline_output_path` (it overrides --output)?"
        )
    return output


def snapshot_id_of(pipeline_file: str | Path) -> str:
    """The ZenML snapshot id the tasks of a compiled YAML run (`--snapshot_id`)."""
    from orchestrators.kubeflow_gpu.pipeline_ir import read_pipeline

    ids = {task.argument("snapshot_id") for task in read_pipeline(pipeline_file).tasks.values()}
    if len(ids) != 1 or None in ids:
        raise CompileError(f"{pipeline_file}: expected one --snapshot_id over all tasks, found {ids}.")
    return str(ids.pop())


def zenml_dag(snapshot_id: str) -> dict[str, dict[str, Any]]:
    """The step DAG as ZenML compiled it, for checking the KFP translation against.

    Args:
        snapshot_id: Snapshot in the active ZenML store.

    Returns:
        Invocation id -> `{"upstream": [...], "source": step import path, "gpu_count": int,
        "pod_settings": the step's `orchestrator.kubeflow_gpu` pod settings as ZenML merged them}`.
    """
    from uuid import UUID

    from zenml.client import Client

    from orchestrators.kubeflow_gpu.flavor import KUBEFLOW_GPU_SETTINGS_KEY

    snapshot = Client().zen_store.get_snapshot(UUID(snapshot_id))
    dag: dict[str, dict[str, Any]] = {}
    for name, step in snapshot.step_configurations.items():
        settings = step.config.settings.get(KUBEFLOW_GPU_SETTINGS_KEY)
        dag[name] = {
            "upstream": sorted(step.spec.upstream_steps),
            "source": step.spec.source.import_path,
            "gpu_count": int(step.config.resource_settings.gpu_count or 0),
            "pod_settings": (settings.model_dump(mode="json").get("pod_settings") if settings else None)
            or {},
        }
    return dag


def _default_image(config: dict[str, Any]) -> str:
    docker = ((config.get("settings") or {}).get("docker")) or {}
    return os.environ.get("KFP_IMAGE") or docker.get("parent_image") or DEFAULT_IMAGE


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (`python -m orchestrators.kubeflow_gpu.compile --help`)."""
    parser = argparse.ArgumentParser(
        prog="python -m orchestrators.kubeflow_gpu.compile",
        description="Compile the ZenML pipeline to a Kubeflow Pipelines YAML (no server needed).",
    )
    parser.add_argument("--config", required=True, help="ZenML run configuration YAML")
    parser.add_argument("--output", required=True, help="KFP pipeline YAML to write")
    parser.add_argument("--pipeline", default=DEFAULT_PIPELINE, help="module:pipeline (default: %(default)s)")
    parser.add_argument(
        "--image", help="task image (default: $KFP_IMAGE, docker.parent_image, causal-lattice)"
    )
    parser.add_argument("--source-root", help="source root for step modules (default: current directory)")
    parser.add_argument("--schedule-cron", help="5-field cron; writes <output stem>.schedule.json")
    parser.add_argument("--schedule-name", help="name of the schedule (default: ZenML's)")
    parser.add_argument("--artifact-store", default=ARTIFACT_STORE_NAME, help="artifact store of the stack")
    parser.add_argument("--dag-json", help="also write ZenML's own step DAG (upstream steps, GPUs) as JSON")
    args = parser.parse_args(argv)

    os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")
    try:
        config = read_run_config(args.config)
        check_output_path(args.output)
        root = Path(args.source_root or os.getcwd()).resolve()
        if not root.is_dir():
            raise CompileError(f"--source-root {str(root)!r} is not a directory.")
        sys.path.insert(0, str(root))
        pipeline = load_pipeline(args.pipeline)
        schedule = None
        if args.schedule_cron:
            from zenml.config.schedule import Schedule

            schedule = Schedule(name=args.schedule_name, cron_expression=args.schedule_cron)
        image = args.image or _default_image(config)
        path = compile_pipeline(
            pipeline,
            args.config,
            args.output,
            image,
            schedule=schedule,
            source_root=root,
            artifact_store=args.artifact_store,
        )
        if args.dag_json:
            dag = zenml_dag(snapshot_id_of(path))
            Path(args.dag_json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.dag_json).write_text(json.dumps(dag, indent=2, sort_keys=True) + "\n")
    except CompileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
