"""Command-line entry: validate the configuration and the data, then run the pipeline.

`python -m pipelines.run -c zenml_config.yaml` is what `make run` calls. Unlike a bare `zenml pipeline run`, it
checks the config and loads/validates the data before ZenML starts, and reports a bad input as one clear line
(exit code 2) instead of a stack trace.
"""

import argparse
import sys
from pathlib import Path

from model.config import ConfigError, ExperimentConfig
from model.data import Dataset, DataValidationError, check_subsets, load_dataset
from model.run_config import read_run_config


def check_inputs(config_path: Path) -> tuple[ExperimentConfig, Dataset]:
    """Everything that can be checked before a step runs: config keys and values, then the data itself."""
    experiment = read_run_config(config_path).require_experiment()
    dataset = load_dataset(experiment.data, experiment.split.min_group_size)
    check_subsets(dataset, experiment.evaluation.subsets)
    return experiment, dataset


def run_pipeline(config_path: Path) -> None:
    from pipelines.causal_experiment import causal_experiment_pipeline

    causal_experiment_pipeline.with_options(config_path=str(config_path))()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", type=Path, default=Path("zenml_config.yaml"))
    parser.add_argument("--check-only", action="store_true", help="validate config and data, do not run")
    args = parser.parse_args(argv)
    try:
        check_inputs(args.config)
    except (ConfigError, DataValidationError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.check_only:
        print(f"{args.config}: configuration and data are valid")
        return 0
    run_pipeline(args.config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
