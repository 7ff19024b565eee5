"""Where a run's human-facing files go: `<results_dir>/<run name>/`, written once, never overwritten."""

import logging
from pathlib import Path

from zenml import get_step_context

from model.config import ExperimentConfig

logger = logging.getLogger(__name__)


def run_directory(experiment: ExperimentConfig) -> Path:
    return Path(experiment.results_dir) / get_step_context().pipeline_run.name


def write_files(experiment: ExperimentConfig, files: dict[str, bytes]) -> list[Path]:
    """Write files under the run's directory; an existing file is an error, never silently replaced."""
    directory = run_directory(experiment)
    written = []
    for relative, content in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("xb") as handle:  # "x": refuse to overwrite an earlier result
            handle.write(content)
        written.append(path)
    logger.info("wrote %s", ", ".join(str(p) for p in written))
    return written
