"""The command line's front door: every input a command takes is checked here before anything runs, and every
refusal is one line on stderr with exit code 2 (`fail`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import click

from model.config import ExperimentConfig
from model.data.files import check_results_dir
from model.data.sources import load_dataset
from model.data.tables import Dataset
from model.errors import ConfigError, DataValidationError
from model.run_config import read_run_config
from model.training.memory import process_memory_limits
from model.training.plan import check_training_plan
from pipelines.plan import step_names
from registry.stack import check_tracking_uri

EXIT_FAILED, EXIT_BAD_INPUT = 1, 2


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """One line on stderr (a message with line breaks is joined), then exit with `code`."""
    line = "; ".join(part.strip() for part in str(message).splitlines() if part.strip())
    click.echo(f"error: {line}", err=True)
    raise SystemExit(code)


def check_inputs(config_path: Path) -> tuple[ExperimentConfig, Dataset]:
    """The front door: everything that can be checked before a step runs. The config's keys and values (its
    step names against the pipeline's, its MLflow URI against what MLflow can use), the data itself (read
    through `model.data.files`), every split the run will train, the memory a training needs under this process's
    limits and the results folder. Any failure is one line and exit code 2."""
    try:
        run_config = read_run_config(config_path)
        experiment = run_config.require_experiment()
        run_config.check_step_names(step_names(experiment))
        if run_config.mlflow_tracking_uri is not None:
            check_tracking_uri(run_config.mlflow_tracking_uri, f"{config_path}: extra.mlflow.tracking_uri")
        dataset = load_dataset(experiment.data, experiment.split.min_group_size)
        check_training_plan(dataset, experiment, process_memory_limits(os.environ))
        check_results_dir(experiment.results_dir)
    except (ConfigError, DataValidationError) as error:
        fail(str(error))
    except RecursionError:
        fail(f"{config_path}: the configuration or data is nested too deeply to check")
    except Exception as error:  # never a traceback at the front door; this names a bug to report
        fail(
            f"internal error while checking {config_path} ({type(error).__name__}: {error}); please report it"
        )
    return experiment, dataset
