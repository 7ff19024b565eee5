"""The `causal-lattice` command line: one console script for every job the package does.

Exit codes are the same everywhere: 0 done, 1 the job ran and failed (a pipeline step, a failing gate, a
benchmark), 2 it did not start (bad configuration, data or option; one line on stderr names the problem and the
fix). Commands that take `-c/--config` read it with the one run-configuration reader (`model.run_config`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click

from cli.front_door import EXIT_FAILED, check_inputs, fail
from cli.pipeline_run import foreign_target_problem, run_pipeline
from model.errors import ConfigError
from model.run_config import read_run_config
from model.training.signals import install_stop_handler
from registry import MODEL_NAME

DEFAULT_CONFIG = Path("zenml_config.yaml")
DEFAULT_KFP_OUTPUT = Path("build/kubeflow/causal_experiment_pipeline.yaml")
BENCHMARKS = {
    "pipeline-time": "bench/pipeline_time.py",
    "structure": "bench/structure.py",
    "structure-scale": "bench/structure_scale.py",
    "gpu-scaling": "bench/gpu_scaling.py",
    "multi-gpu": "bench/multi_gpu.py",
    "latent-silhouette": "bench/latent_silhouette.py",
    "cohort-gap-noise": "bench/cohort_gap_noise.py",
}

config_option = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_CONFIG,
    show_default=True,
    help="ZenML run configuration (parameters.experiment, steps, settings).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Train, verify and promote the causal lattice transformer (ZenML, MLflow, Kubeflow).

    \b
    Exit codes of every command:
      0  done
      1  the job ran and failed (a pipeline step, a failing gate, a benchmark)
      2  it did not start: bad configuration, data or option (one line on stderr says which and the fix)
    143  run/retrain stopped by SIGTERM: a running training checkpointed at its epoch's end (a rerun
         resumes it), any other running step finished; no later step ran
    """


@main.command()
@config_option
def validate(config_path: Path) -> None:
    """Check the configuration and load and validate the data; train nothing.

    \b
    Exit codes: 0 configuration and data are valid; 2 they are not (the line names the key, column or row).
    """
    experiment, dataset = check_inputs(config_path)
    click.echo(
        f"{config_path}: configuration (profile {experiment.profile}) and data ({dataset.name}, "
        f"{dataset.features.shape[0]} rows, {dataset.n_features} features) are valid"
    )


@main.command()
@config_option
def run(config_path: Path) -> None:
    """Validate configuration and data, then run the whole pipeline on the active ZenML stack.

    Results go to <results_dir>/<run name>/ (reports/summary.html is the whole report); on a stack with an
    MLflow tracker every step logs there and the main model is registered.

    \b
    Exit codes: 0 the run completed; 1 a step failed; 2 bad configuration or data (nothing ran);
    143 SIGTERM stopped it (a running training checkpoints and stops, another step finishes).
    """
    install_stop_handler()
    experiment, _ = check_inputs(config_path)
    run_pipeline(config_path, experiment)


@main.command()
@config_option
@click.option("--force", is_flag=True, help="Run the pipeline whatever the drift check says.")
@click.option("--decide-only", is_flag=True, help="Write the decision; do not run the pipeline.")
@click.option("--stack", help="ZenML stack to activate first (a fresh pod has no active stack of its own).")
def retrain(config_path: Path, force: bool, decide_only: bool, stack: str | None) -> None:
    """Run the pipeline only when the configured data drifted from the champion's training data.

    Compares the data with the data the MLflow `champion` was trained on (Evidently, threshold
    retraining.drift_share_threshold); runs when it drifted or there is no champion. The decision and its drift
    report go to <results_dir>/retraining/<UTC time>/. The Kubernetes CronJob runs this command.

    \b
    Exit codes: 0 decided (and, if needed, the run completed); 1 the retraining run failed;
    2 bad configuration or data; 143 SIGTERM stopped the run (as for run).
    """
    from cli.retrain import decide

    install_stop_handler()
    experiment, dataset = check_inputs(config_path)
    if stack:
        from zenml.client import Client

        try:
            Client().activate_stack(stack)
        except KeyError:
            fail(
                f"no ZenML stack named {stack!r}: register it (k8s/register_stack.sh) or pass another --stack"
            )
    problem = foreign_target_problem(os.environ)  # the champion to compare with is on the stack's target
    if problem:
        fail(problem)
    decision, described, directory = decide(experiment, dataset)
    verdict = "retrain" if decision.retrain or force else "no retraining"
    click.echo(f"{verdict}: {decision.reason}; reference: {described}; report: {directory}")
    if (decision.retrain or force) and not decide_only:
        run_pipeline(config_path, experiment)


@main.command(name="compile")
@config_option
@click.option("--output", type=click.Path(path_type=Path), default=DEFAULT_KFP_OUTPUT, show_default=True)
@click.option(
    "--pipeline",
    "reference",
    default="pipelines.causal_experiment:causal_experiment_pipeline",
    show_default=True,
    help="module:attribute of the ZenML pipeline.",
)
@click.option(
    "--image",
    help="Task image (default: the config's settings.docker.parent_image, else causal-lattice:latest).",
)
@click.option(
    "--source-root", type=click.Path(path_type=Path), help="Root of the step modules (default: cwd)."
)
@click.option(
    "--schedule-cron", help="5-field cron: also write <output stem>.schedule.json (a KFP recurring run)."
)
@click.option("--schedule-name", help="Name of that schedule.")
@click.option("--artifact-store", default="default", show_default=True, help="Artifact store of the stack.")
@click.option(
    "--train-job",
    type=click.Path(path_type=Path),
    help="Also write a Kubeflow Trainer TrainJob per training step here (YAML): the training on several pods.",
)
@click.option(
    "--train-job-nodes",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Pods of each TrainJob.",
)
@click.option(
    "--train-job-run-id", help="Kubeflow run id of the pipeline run whose trainings the TrainJobs run."
)
def compile_command(
    config_path: Path,
    output: Path,
    reference: str,
    image: str | None,
    source_root: Path | None,
    schedule_cron: str | None,
    schedule_name: str | None,
    artifact_store: str,
    train_job: Path | None,
    train_job_nodes: int,
    train_job_run_id: str | None,
) -> None:
    """Compile the pipeline to a Kubeflow Pipelines YAML with per-step GPU pod specs; contact no server.

    Registers the compile-only stack kfp-compile in the current ZenML store and writes the YAML (and a
    schedule's recurring-run spec beside it). Compiled on a local store, its tasks run against that store.
    With --train-job, also one Kubeflow Trainer TrainJob per training step: the same image and step
    entrypoint under torchrun on --train-job-nodes pods, one rank per GPU of the step (gpu_count).

    \b
    Exit codes: 0 the YAML was written (its path is printed); 2 bad configuration, path or pipeline.
    """
    from cli.compile import (
        DEFAULT_IMAGE,
        CompileError,
        TrainJobOptions,
        check_output_path,
        compile_pipeline,
        load_pipeline,
    )
    from cli.stacks import StackSetupError

    os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")  # compiling needs no network
    try:
        parent_image = read_run_config(config_path).parent_image
        check_output_path(output)
        train_jobs = None
        if train_job is not None:
            check_output_path(train_job)
            if not train_job_run_id:
                raise CompileError(
                    "--train-job needs --train-job-run-id: the Kubeflow run id of the pipeline run whose "
                    "training steps the TrainJobs run"
                )
            train_jobs = TrainJobOptions(train_job, train_job_run_id, train_job_nodes)
        root = (source_root or Path.cwd()).resolve()
        sys.path.insert(0, str(root))
        pipeline = load_pipeline(reference)
        schedule = None
        if schedule_cron:
            from zenml.config.schedule import Schedule

            schedule = Schedule(name=schedule_name, cron_expression=schedule_cron)
        path = compile_pipeline(
            pipeline,
            config_path,
            output,
            image or parent_image or DEFAULT_IMAGE,
            schedule=schedule,
            source_root=root,
            artifact_store=artifact_store,
            train_jobs=train_jobs,
        )
    except (CompileError, ConfigError, StackSetupError) as error:
        fail(str(error))
    click.echo(path)


@main.command()
@click.option("--tracking-uri", help="MLflow URI (default: $MLFLOW_TRACKING_URI, then the active stack's).")
@click.option("--model", "model_name", default=MODEL_NAME, show_default=True, help="Registered model.")
@click.option("--promote", is_flag=True, help="Also move `champion` to the challenger when it passes.")
def gate(tracking_uri: str | None, model_name: str, promote: bool) -> None:
    """The promotion gate for CI/CD: may the MLflow `challenger` become `champion`?

    Decides from the challenger's tags (each gate's verdict, its accuracy and the champion's on the same
    held-out rows, recorded by the pipeline's promote step).

    \b
    Exit codes: 0 it may (or already is champion); 1 it may not (failing gates and reasons on stderr);
    2 it cannot be checked (no MLflow reachable, no challenger).
    """
    from registry import CHALLENGER, CHAMPION
    from registry.gate import GateError, evaluate_challenger
    from registry.stack import (
        TrackingServerError,
        active_stack_tracking_uri,
        check_reachable,
        is_remote,
        resolve_tracking_uri,
    )

    try:
        uri = resolve_tracking_uri(tracking_uri, os.environ, None, active_stack_tracking_uri)
        if is_remote(uri):
            check_reachable(uri)
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        version, decision, table = evaluate_challenger(client, model_name)
    except (GateError, TrackingServerError) as error:
        fail(f"gate: {error}")
    click.echo(f"{model_name} version {version} ({CHALLENGER}) at {uri}\n\n{table}")
    if not decision.promote:
        failing = ", ".join(decision.failing_gates) or "none"
        click.echo(f"gate: FAIL: version {version} may not be promoted; failing gates: {failing}", err=True)
        for reason in decision.reasons:
            click.echo(f"gate:   {reason}", err=True)
        raise SystemExit(EXIT_FAILED)
    if promote:
        client.set_registered_model_alias(model_name, CHAMPION, version)
        click.echo(f"gate: version {version} is now {CHAMPION!r}")
    click.echo(f"gate: PASS: version {version} may be promoted")


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("name", type=click.Choice(sorted(BENCHMARKS)), default="pipeline-time")
@click.argument("options", nargs=-1, type=click.UNPROCESSED)
@click.option("--repo", type=click.Path(path_type=Path), default=Path("."), help="Repository checkout.")
def bench(name: str, options: tuple[str, ...], repo: Path) -> None:
    """Run one benchmark of a repository checkout (bench/), passing OPTIONS on to it.

    pipeline-time (the default): wall time of the default pipeline run; structure: the structure-learning and
    causal-prediction suite against PC, GES, DAGMA and scikit-learn baselines; structure-scale: the structure phase
    beside SDCD at 1,000 to 20,000 features (`make sdcd` first, or `--no-sdcd`); gpu-scaling: throughput and memory
    against a plain transformer as the feature count grows (`--device cpu --sizes 64,256` without a GPU);
    multi-gpu: data-parallel samples/s and speedup on 1, 2 and 4 GPUs (`--record` on a multi-GPU machine);
    latent-silhouette: Exp-2's silhouette of z beside that of the label's true logit and probability. Each
    prints one JSON line and writes its record without overwriting an earlier one. The benchmarks live beside
    the package, not in it: run this from the checkout's root or pass --repo.

    \b
    Exit codes: 0 the benchmark finished; 1 it failed; 2 no bench/ in the checkout, or a bad option.
    """
    script = repo / BENCHMARKS[name]
    if not script.is_file():
        fail(f"{script} not found: run from the repository checkout's root, or pass --repo DIR")
    argv = [sys.executable, str(script), *options]
    click.echo(f"bench: {' '.join(argv[1:])}", err=True)
    code = subprocess.run(argv, cwd=repo, check=False).returncode
    if code == 2:  # a usage problem the benchmark has named itself
        sys.exit(2)
    if code != 0:
        fail(f"benchmark {script} failed", EXIT_FAILED)
