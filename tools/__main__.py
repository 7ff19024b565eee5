"""`python -m tools`: the development and CI tools' command line (exit 0 done, 1 failed, 2 bad input)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NoReturn

import click


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def tools() -> None:
    """Development and CI tools of causal-lattice (not part of the installed package)."""


@tools.command("local-stack")
@click.option("--state-dir", type=click.Path(path_type=Path), default=Path(".state"), show_default=True)
@click.option("--tracking-uri", help="MLflow URI (default: $MLFLOW_TRACKING_URI, the config's, SQLite).")
@click.option(
    "-c", "--config", "config_path", type=click.Path(path_type=Path), default=Path("zenml_config.yaml")
)
def local_stack(state_dir: Path, tracking_uri: str | None, config_path: Path) -> None:
    """Register and activate the causal-lattice-local stack (MLflow tracker and registry); idempotent.

    Exit codes: 0 the stack is active; 2 the MLflow server does not answer, or a bad config.
    """
    from cli.stacks import StackSetupError
    from model.errors import ConfigError
    from model.run_config import read_run_config
    from registry.stack import TrackingServerError
    from tools.local_stack import REGISTRY_NAME, STACK_NAME, TRACKER_NAME, set_up_local_stack

    try:
        configured = read_run_config(config_path).mlflow_tracking_uri if config_path.is_file() else None
        uri = set_up_local_stack(tracking_uri, os.environ, configured, state_dir.resolve())
    except (ConfigError, StackSetupError, TrackingServerError) as error:
        fail(str(error))
    click.echo(
        f"stack {STACK_NAME!r} is active: experiment tracker {TRACKER_NAME!r} and model registry "
        f"{REGISTRY_NAME!r} use MLflow at {uri}"
    )


@tools.command("production-stack")
def production_stack() -> None:
    """Register and activate the production stack from the environment (k8s/register_stack.sh runs this).

    Exit codes: 0 the stack is registered and active; 2 the environment or an existing component is wrong.
    """
    from cli.stacks import StackSetupError
    from tools.production_stack import ProductionStackError, register_production_stack

    try:
        name = register_production_stack(os.environ)
    except (ProductionStackError, StackSetupError) as error:
        fail(str(error))
    click.echo(f"stack {name!r} is registered and active")


@tools.command("kfp-run")
@click.argument("pipeline_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--run-id", help="Stands for the KFP run UUID (default: random).")
@click.option("--secret", "secret_items", multiple=True, help="NAME.KEY=VALUE for a task's secret env.")
@click.option("--require-secrets", is_flag=True, help="Fail on secret keys not supplied, as a pod would.")
@click.option("--workdir", type=click.Path(path_type=Path), help="Parent of the per-task directories.")
@click.option(
    "--source-root", type=click.Path(path_type=Path), help="Prepended to PYTHONPATH (default: cwd)."
)
@click.option("--timeout", type=float, help="Per-task timeout in seconds.")
@click.option("--check-zenml", is_flag=True, help="Report the ZenML run's status at the end.")
@click.option("--json-out", type=click.Path(path_type=Path), help="Also write the summary JSON here.")
def kfp_run(
    pipeline_file: Path,
    run_id: str | None,
    secret_items: tuple[str, ...],
    require_secrets: bool,
    workdir: Path | None,
    source_root: Path | None,
    timeout: float | None,
    check_zenml: bool,
    json_out: Path | None,
) -> None:
    """Run a compiled KFP YAML's tasks as local processes in DAG order, each in <workdir>/<task>/.

    Exit codes: 0 every task completed; 1 a task failed (the rest skipped); 2 the YAML cannot be run locally.
    """
    from dataclasses import asdict

    from tools.kfp_local_run import LocalRunError, run_compiled_pipeline, zenml_run_status

    secrets: dict[str, dict[str, str]] = {}
    for item in secret_items:
        ref, sep, value = item.partition("=")
        name, dot, key = ref.partition(".")
        if not (sep and dot and name and key):
            fail(f"--secret {item!r} must look like NAME.KEY=VALUE")
        secrets.setdefault(name, {})[key] = value
    try:
        result = run_compiled_pipeline(
            pipeline_file,
            run_id=run_id,
            secrets=secrets,
            require_secrets=require_secrets,
            workdir=workdir,
            source_root=source_root,
            timeout=timeout,
            echo=True,
        )
    except LocalRunError as error:
        fail(str(error))
    summary = asdict(result) | {"ok": result.ok}
    if check_zenml:
        summary["zenml"] = zenml_run_status(result.run_id)
    text = json.dumps(summary, indent=2)
    click.echo(text)
    if json_out:
        json_out.write_text(text + "\n")
    raise SystemExit(0 if result.ok else 1)


@tools.command("zenml-dag")
@click.argument("pipeline_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="JSON file to write.")
def zenml_dag_command(pipeline_file: Path, out: Path) -> None:
    """Write ZenML's own step DAG (upstream steps, GPUs, pod settings) of a compiled YAML as JSON.

    Exit codes: 0 written; 2 the YAML is not a compiled kubeflow_gpu pipeline.
    """
    from tools.kfp_ir import PipelineIRError
    from tools.zenml_dag import snapshot_id_of, zenml_dag

    try:
        dag = zenml_dag(snapshot_id_of(pipeline_file))
    except PipelineIRError as error:
        fail(str(error))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dag, indent=2, sort_keys=True) + "\n")


@tools.command("hostile-inputs")
@click.option("--markdown", type=click.Path(path_type=Path), help="Also write both tables to this file.")
@click.option("--no-train", is_flag=True, help="Do not train a short model on each accepted input.")
def hostile_inputs(markdown: Path | None, no_train: bool) -> None:
    """Put every hostile input of tools/hostile through `causal-lattice validate` and count the outcomes.

    Exit codes: 0 every input was refused with one clear line or accepted as expected; 1 one was not.
    """
    from tools.hostile import case_table, run_all, summary_table

    outcomes = run_all(train=not no_train)
    text = summary_table(outcomes)
    click.echo(text)
    for outcome in outcomes:
        if not outcome.as_expected:
            click.echo(f"UNEXPECTED {outcome.case.name}: {outcome.category}: {outcome.line}", err=True)
    if markdown:
        markdown.write_text(f"{text}\n\n{case_table(outcomes)}\n")
    raise SystemExit(0 if all(o.as_expected for o in outcomes) else 1)


@tools.command("pin-images")
@click.option(
    "--image",
    "images",
    multiple=True,
    required=True,
    metavar="CONTAINER=IMAGE@sha256:DIGEST",
    help="A workload container's image, pinned by digest (submit: the project image; mlflow: MLflow's).",
)
@click.option("--source", type=click.Path(path_type=Path), default=Path("k8s"), show_default=True)
@click.option("--output", type=click.Path(path_type=Path), default=Path("build/k8s"), show_default=True)
def pin_images(images: tuple[str, ...], source: Path, output: Path) -> None:
    """Write the manifests of k8s/ to apply (`kubectl apply -f OUTPUT`) with every image pinned by digest.

    Exit codes: 0 written; 2 an image without a digest, or a container name the manifests do not have.
    """
    from tools.pin_images import PinError, parse_images, pin_manifests

    try:
        written = pin_manifests(source, output, parse_images(list(images)))
    except PinError as error:
        fail(str(error))
    click.echo(f"{len(written)} manifests with pinned images in {output}: kubectl apply -f {output}")


tools()
