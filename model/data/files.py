"""The front door for a user's files (tables, edge lists, run configurations): any OS, pandas, pyarrow or PyYAML
failure becomes one line naming the file, line or column and the fix (`DataValidationError`, `ConfigError`).
Bytes are checked before any parser sees them (regular, non-empty, not binary or compressed, UTF-8, Parquet magic)."""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import os
import shutil
import stat
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from model.errors import ConfigError, DataValidationError

MAX_CONFIG_BYTES = 1 << 20
# A YAML document may expand (anchors and aliases) to at most this many values.
MAX_CONFIG_VALUES = 100_000
TABLE_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_MAGIC = {
    b"\x1f\x8b": "gzip-compressed: decompress it (gunzip) and point to the .csv",
    b"PK\x03\x04": "a ZIP archive (an Excel workbook?): export the sheet as CSV",
    b"BZh": "bzip2-compressed: decompress it and point to the .csv",
    b"\xfd7zXZ": "xz-compressed: decompress it and point to the .csv",
    b"\x89HDF": "an HDF5 file: export the table as CSV or Parquet",
}


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0].strip() if text else type(error).__name__


def read_bytes(
    path: Path, what: str, key: str, error: type[ValueError] = DataValidationError, limit: int | None = None
) -> bytes:
    """The bytes of a regular, readable, non-empty file; `what` names it ("data file") and `key` the setting
    that points to it ("data.path")."""
    try:
        info = os.stat(path)  # follows symlinks
    except FileNotFoundError:
        if path.is_symlink():
            raise error(
                f"{what} {path} is a symlink to {os.readlink(path)}, which does not exist: fix the link or {key}"
            ) from None
        raise error(f"{what} {path} does not exist: set {key} to an existing file") from None
    except OSError as problem:
        raise error(f"{what} {path} cannot be opened ({problem.strerror}): fix {key}") from None
    if stat.S_ISDIR(info.st_mode):
        raise error(f"{what} {path} is a directory: set {key} to a file")
    if not stat.S_ISREG(info.st_mode):
        raise error(
            f"{what} {path} is not a regular file (a pipe, socket or device, which reading could block on): "
            f"set {key} to a file"
        )
    if info.st_size == 0:
        raise error(f"{what} {path} is empty (0 bytes): point {key} to the file that holds the data")
    if limit is not None and info.st_size > limit:
        raise error(f"{what} {path} is {info.st_size} bytes, more than {limit}: is {key} the right file?")
    try:
        return path.read_bytes()
    except MemoryError:
        raise error(f"{what} {path} ({info.st_size} bytes) does not fit in memory") from None
    except OSError as problem:
        raise error(
            f"{what} {path} cannot be read ({problem.strerror}): fix its permissions or {key}"
        ) from None


def decode_text(content: bytes, path: Path, what: str, error: type[ValueError] = DataValidationError) -> str:
    """UTF-8 text (a byte-order mark is dropped); binary content or another encoding is named with its line."""
    for magic, meaning in _MAGIC.items():
        if content.startswith(magic):
            raise error(f"{what} {path} is {meaning}")
    if content.startswith(b"PAR1"):
        raise error(f"{what} {path} is a Parquet file, not text: name it .parquet")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as problem:
        line, column = _position(content, problem.start)
        raise error(
            f"{what} {path} is not UTF-8 text (byte 0x{content[problem.start]:02x} at line {line}, column "
            f"{column}): save it as UTF-8, for example `iconv -f latin1 -t utf-8`"
        ) from None
    if "\x00" in text:
        line, column = _position(content, content.index(b"\x00"))
        raise error(f"{what} {path} holds binary data (a NUL byte at line {line}, column {column}), not text")
    if not text.strip():
        raise error(f"{what} {path} holds only whitespace")
    return text


def _position(content: bytes, offset: int) -> tuple[int, int]:
    before = content[:offset]
    return before.count(b"\n") + 1, offset - (before.rfind(b"\n") + 1) + 1


def read_table_file(path: Path, what: str, key: str) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame with string column names, each name checked."""
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataValidationError(
            f"{what} {path}: unsupported extension {path.suffix!r}; use .csv or .parquet (fix {key})"
        )
    content = read_bytes(path, what, key)
    frame = _read_csv(content, path, what) if kind == "csv" else _read_parquet(content, path, what)
    names = [str(c) for c in frame.columns]
    for index, name in enumerate(names):
        if name.startswith("Unnamed: ") or not name.strip():
            raise DataValidationError(
                f"{what} {path}: column {index + 1} has no name in the header: name it or delete the column"
            )
        bad = [c for c in name if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]
        if bad:
            raise DataValidationError(
                f"{what} {path}: column {index + 1} name {name!r} holds the control character {bad[0]!r}: "
                "rename the column"
            )
    frame.columns = pd.Index(names)
    if frame.shape[0] == 0:
        raise DataValidationError(f"{what} {path} has a header but no rows")
    return frame


def _read_csv(content: bytes, path: Path, what: str) -> pd.DataFrame:
    text = decode_text(content, path, what)
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, [])
        for row in reader:
            if row and len(row) != len(header):
                raise DataValidationError(
                    f"{what} {path}: line {reader.line_num} has {len(row)} field(s) and the header {len(header)}: "
                    "every row needs one value per column (check for a stray comma or an unclosed quote)"
                )
    except csv.Error as problem:
        raise DataValidationError(
            f"{what} {path} is not a well-formed CSV (line {reader.line_num}: {problem}): close every quote"
        ) from None
    seen: set[str] = set()
    repeated = sorted({n for n in header if n in seen or seen.add(n)})  # type: ignore[func-returns-value]
    if repeated:
        raise DataValidationError(
            f"{what} {path}: duplicate column name(s) {repeated} in the header: rename the columns so every "
            "name is unique"
        )
    try:
        frame = pd.read_csv(io.StringIO(text))
    except pd.errors.EmptyDataError:
        raise DataValidationError(f"{what} {path} has no header and no rows") from None
    except pd.errors.ParserError as problem:
        raise DataValidationError(
            f"{what} {path} is not a well-formed CSV ({_first_line(problem)}): every row needs as many "
            "fields as the header, with quotes closed"
        ) from None
    except (ValueError, OverflowError) as problem:
        raise DataValidationError(f"{what} {path} cannot be read as CSV ({_first_line(problem)})") from None
    for separator, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
        if frame.shape[1] == 1 and separator in str(frame.columns[0]):
            raise DataValidationError(
                f"{what} {path} seems to be separated by {name}, not commas (header "
                f"{str(frame.columns[0])[:60]!r}): save it comma-separated"
            )
    return frame


def _read_parquet(content: bytes, path: Path, what: str) -> pd.DataFrame:
    if not (content.startswith(b"PAR1") and content.endswith(b"PAR1")):
        try:
            content[:4096].decode("utf-8")
            looks = "text (a CSV named .parquet?): name it .csv"
        except UnicodeDecodeError:
            looks = "no Parquet magic bytes (truncated or another format): export it again as Parquet"
        raise DataValidationError(f"{what} {path} is not a Parquet file; it holds {looks}")
    try:
        return pd.read_parquet(io.BytesIO(content))
    except Exception as problem:  # pyarrow raises many types (ArrowInvalid, OSError, ...): name the file
        raise DataValidationError(
            f"{what} {path} cannot be read as Parquet ({type(problem).__name__}: {_first_line(problem)}): "
            "export it again"
        ) from None


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses a key repeated in one mapping (PyYAML keeps the last silently)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            first = seen.setdefault(key, key_node.start_mark.line + 1)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key is itself a list or mapping", key_node.start_mark
            ) from None
        if first != key_node.start_mark.line + 1:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} repeats the one on line {first}", key_node.start_mark
            )
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _count_values(document: Any, limit: int) -> int:
    """Values in the document as a reader would walk it (aliases expanded); stops counting past `limit`."""
    count, stack = 0, [document]
    while stack and count <= limit:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def read_yaml_file(path: Path, what: str = "configuration file", key: str = "-c/--config") -> Any:
    """A YAML document; any problem is a one-line ConfigError with the line and column."""
    text = decode_text(read_bytes(path, what, key, ConfigError, MAX_CONFIG_BYTES), path, what, ConfigError)
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # noqa: S506  (a SafeLoader subclass)
    except yaml.MarkedYAMLError as problem:
        mark = problem.problem_mark or problem.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        reason = problem.problem or problem.context or "syntax error"
        raise ConfigError(f"{path} is not valid YAML: {reason}{where}") from None
    except (yaml.YAMLError, RecursionError) as problem:
        raise ConfigError(f"{path} is not valid YAML: {_first_line(problem)}") from None
    if _count_values(document, MAX_CONFIG_VALUES) > MAX_CONFIG_VALUES:
        raise ConfigError(
            f"{path}: the document expands (anchors and aliases) to more than {MAX_CONFIG_VALUES} values: "
            "write the configuration out without nested aliases"
        )
    return document


# What a run may write into its results folder (Evidently's drift pages are its largest files), with room.
MIN_FREE_RESULTS_BYTES = 64 << 20


def check_results_dir(path: Path, min_free: int = MIN_FREE_RESULTS_BYTES) -> None:
    """`results_dir` must be (or be creatable as) a writable folder with room for a run; nothing is created."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():
            raise ConfigError(
                f"results_dir {path}: {existing} is a dangling symlink: fix it or set results_dir"
            )
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"results_dir {path}: {existing} is not a folder: set results_dir to a folder")
    try:
        with tempfile.TemporaryFile(dir=existing) as probe:
            probe.write(b"\0")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as problem:
        if problem.errno not in (errno.ENOSPC, errno.EDQUOT):  # a full disk: reported by its free space below
            raise ConfigError(
                f"results_dir {path} is not writable ({existing}: {problem.strerror}): make it writable or set "
                "results_dir to another folder"
            ) from None
    free = shutil.disk_usage(existing).free
    if free < min_free:
        raise ConfigError(
            f"results_dir {path} has {free / 2**20:.1f} MiB free, a run writes up to about "
            f"{min_free / 2**20:.0f} MiB: free space or set results_dir to another disk"
        )


def input_digest(paths: list[Path | None]) -> str:
    """A content hash of the files a data source reads (empty without files). It goes into the cache key of
    the step that reads them: with ZenML caching on, a file changed in place is a new input. A file that
    cannot be read hashes as its path; reading it then fails with the front door's message."""
    digest = hashlib.sha256()
    for path in paths:
        if path is None:
            continue
        digest.update(str(path).encode())
        try:
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except OSError:
            digest.update(b"unreadable")
    return digest.hexdigest()[:16] if any(p is not None for p in paths) else ""
