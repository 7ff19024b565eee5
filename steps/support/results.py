"""Where a run's human-facing files go: `<results_dir>/<run name>/`, written once, never overwritten.

Each file is written whole under a temporary name and then linked to its final name, which fails if that name
exists: a full disk or a kill mid-write leaves no truncated result, and no run replaces another's file.
"""

import logging
import os
from pathlib import Path

from zenml import get_step_context

from model.config import ExperimentConfig

logger = logging.getLogger(__name__)


class ResultsWriteError(OSError):
    """A result file could not be written; the message names the file, the reason and the fix."""


def run_directory(experiment: ExperimentConfig) -> Path:
    return Path(experiment.results_dir) / get_step_context().pipeline_run.name


def write_file(path: Path, content: bytes) -> None:
    """Write `content` to a new file `path` atomically; an existing `path` is an error, never replaced."""
    staging = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with staging.open("xb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(staging, path)  # fails when `path` exists: refuse to overwrite an earlier result
    except FileExistsError:
        raise ResultsWriteError(f"{path} exists already: a run never overwrites a result") from None
    except OSError as error:
        raise ResultsWriteError(
            f"cannot write {path} ({error.strerror}): free space on that disk or make results_dir writable, "
            "then rerun: the steps that finished are reused from the cache and earlier results stay as they are"
        ) from None
    finally:
        staging.unlink(missing_ok=True)


def write_files(experiment: ExperimentConfig, files: dict[str, bytes]) -> list[Path]:
    """Write files under the run's directory; an existing file is an error, never silently replaced."""
    directory = run_directory(experiment)
    written = []
    for relative, content in files.items():
        write_file(directory / relative, content)
        written.append(directory / relative)
    logger.info("wrote %s", ", ".join(str(p) for p in written))
    return written


def point_latest_at(directory: Path) -> None:
    """`latest` beside the run folders, a relative symlink to `directory`; earlier runs stay where they are.
    Only a convenience: a link that cannot be made is a warning, the report itself is written."""
    latest = directory.parent / "latest"
    try:
        if latest.is_symlink() or not latest.exists():
            latest.unlink(missing_ok=True)
            os.symlink(directory.name, latest)
    except OSError as error:
        logger.warning("could not point %s at %s (%s)", latest, directory.name, error.strerror)
