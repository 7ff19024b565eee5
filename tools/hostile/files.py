"""Hostile data files: bytes, encodings, formats, names and paths."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from tools.hostile.common import (
    ACCEPT,
    GOOD,
    HEADER,
    Case,
    assign,
    base_frame,
    parquet_bytes,
    raw,
    table,
    with_path,
)


def _zip(content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.csv", content)
    return buffer.getvalue()


def _fifo(directory: Path) -> Path:
    path = directory / "pipe.csv"
    os.mkfifo(path)
    return path


def _link(target: str | None, name: str = "link.csv"):  # type: ignore[no-untyped-def]
    def make(directory: Path) -> Path:
        path = directory / name
        if target == "loop":
            os.symlink(directory / "other.csv", path)
            os.symlink(path, directory / "other.csv")
        elif target == "text":
            (directory / "notes.txt").write_text(
                "Meeting notes\nnothing here is a table, really: none\nbye\n"
            )
            os.symlink(directory / "notes.txt", path)
        else:
            os.symlink(directory / "missing.csv", path)
        return path

    return make


def _mkdir(directory: Path) -> Path:
    (directory / "folder.csv").mkdir()
    return directory / "folder.csv"


def file_cases() -> list[Case]:
    rng = np.random.default_rng(3)
    half_parquet = parquet_bytes()
    cases = [
        Case("empty file", "file", raw(b""), "is empty"),
        Case("only whitespace", "file", raw(b"   \n\t\n"), "holds only whitespace"),
        Case("only a newline", "file", raw(b"\n"), "holds only whitespace"),
        Case("only a byte-order mark", "file", raw(b"\xef\xbb\xbf"), "holds only whitespace"),
        Case("header without rows", "file", raw(HEADER + b"\n"), "has a header but no rows"),
        Case("header without newline", "file", raw(HEADER), "has a header but no rows"),
        Case("latin-1 byte in the header", "file", raw(b"g\xe9ne," + GOOD[3:]), "is not UTF-8 text"),
        Case(
            "latin-1 byte in a cell",
            "file",
            raw(GOOD.replace(b"yes", b"y\xe9s", 1)),
            "(byte 0xe9 at line 5, column 101)",
        ),
        Case("UTF-16 encoded", "file", raw(GOOD.decode().encode("utf-16")), "is not UTF-8 text"),
        Case("random binary bytes", "file", raw(rng.bytes(4096)), "not UTF-8"),
        Case("gzip bytes named .csv", "file", raw(gzip.compress(GOOD)), "gzip-compressed"),
        Case("zip archive named .csv", "file", raw(_zip(GOOD)), "ZIP archive"),
        Case("bzip2 bytes named .csv", "file", raw(bz2.compress(GOOD)), "bzip2-compressed"),
        Case("xz bytes named .csv", "file", raw(lzma.compress(GOOD)), "xz-compressed"),
        Case("Parquet named .csv", "file", raw(parquet_bytes()), "is a Parquet file"),
        Case("NUL byte in a cell", "file", raw(GOOD.replace(b"yes", b"y\x00s", 1)), "NUL byte at line 5"),
        Case(
            "ragged row (extra field)",
            "file",
            raw(GOOD + b"1,2,3,4,5,yes,lung,9\n"),
            "line 122 has 8 field(s) and the header 7",
        ),  # fmt: skip
        Case(
            "extra field in every row",
            "file",
            raw(GOOD.replace(b"\n", b",9\n").replace(HEADER + b",9", HEADER)),
            "line 2 has 8 field(s)",
        ),  # fmt: skip
        Case(
            "short row (missing field)",
            "file",
            raw(GOOD.replace(b",yes,", b",", 1)),
            "line 5 has 6 field(s) and the header 7",
        ),  # fmt: skip
        Case("unclosed quote", "file", raw(GOOD + b'1,2,3,4,"5,yes,lung\n'), "line 122 has 5 field(s)"),
        Case("semicolon separated", "file", raw(GOOD.replace(b",", b";")), "separated by semicolons"),
        Case("tab separated", "file", raw(GOOD.replace(b",", b"\t")), "separated by tabs"),
        Case("bar separated", "file", raw(GOOD.replace(b",", b"|")), "separated by bars"),
        Case("a directory named .csv", "path", with_path(_mkdir), "is a directory"),
        Case("a named pipe (would block)", "path", with_path(_fifo), "not a regular file"),
        Case(
            "symlink to a non-table text",
            "path",
            with_path(_link("text")),
            "line 2 has 2 field(s) and the header 1",
        ),
        Case("dangling symlink", "path", with_path(_link(None)), "which does not exist"),
        Case("symlink loop", "path", with_path(_link("loop")), "cannot be opened"),
        Case("path does not exist", "path", with_path(lambda d: d / "nope.csv"), "does not exist"),
        Case("unsupported .xlsx", "path", raw(_zip(GOOD), ".xlsx"), "unsupported extension '.xlsx'"),
        Case("unsupported .txt", "path", raw(GOOD, ".txt"), "unsupported extension '.txt'"),
        Case("no extension", "path", raw(GOOD, ""), "unsupported extension ''"),
        Case(
            "compressed .csv.gz", "path", raw(gzip.compress(GOOD), ".csv.gz"), "unsupported extension '.gz'"
        ),
        Case("UTF-8 byte-order mark", "file", raw(b"\xef\xbb\xbf" + GOOD), ACCEPT, "the mark is dropped"),
        Case(
            "CRLF line endings", "file", raw(GOOD.replace(b"\n", b"\r\n")), ACCEPT, "any line ending is text"
        ),
        Case("trailing blank lines", "file", raw(GOOD + b"\n\n\n"), ACCEPT, "blank lines hold no row"),
        Case("comment line", "file", raw(GOOD + b"# exported by tool X\n"), "line 122 has 1 field(s)"),
        Case("empty header cell", "names", raw(b"," + GOOD.split(b",", 1)[1]), "has no name in the header"),
        Case(
            "pandas index column", "names", raw(base_frame().to_csv().encode()), "has no name in the header"
        ),
        Case("duplicate header", "names", raw(GOOD.replace(b"g1,", b"g0,", 1)), "duplicate column name"),
        Case(
            "control character in a name",
            "names",
            raw(GOOD.replace(b"g1", b"g\x011", 1)),
            "control character",
        ),
        Case(
            "tab inside a quoted name", "names", raw(GOOD.replace(b"g1", b'"g\t1"', 1)), "control character"
        ),
        Case(
            "newline inside a quoted name",
            "names",
            raw(GOOD.replace(b"g1", b'"g\n1"', 1)),
            "control character",
        ),
        Case(
            "name of spaces only", "names", raw(GOOD.replace(b"g1", b"   ", 1)), "has no name in the header"
        ),
        Case(
            "unicode names", "names", raw(GOOD.replace(b"g1", "遺伝子1".encode())), ACCEPT, "names are text"
        ),
        Case(
            "a 5,000-character name",
            "names",
            raw(GOOD.replace(b"g1", b"g" * 5000, 1)),
            ACCEPT,
            "names are text",
        ),
        Case(
            "CSV text named .parquet", "parquet", raw(GOOD, ".parquet"), "holds text (a CSV named .parquet?)"
        ),
        Case("random bytes named .parquet", "parquet", raw(rng.bytes(2048), ".parquet"), "no Parquet magic"),
        Case(
            "truncated Parquet",
            "parquet",
            raw(half_parquet[: len(half_parquet) // 2], ".parquet"),
            "no Parquet",
        ),
        Case(
            "corrupt Parquet body",
            "parquet",
            raw(half_parquet[:8] + b"\0" * (len(half_parquet) - 12) + b"PAR1", ".parquet"),
            "cannot be read as Parquet",
        ),  # fmt: skip
        Case("empty .parquet", "parquet", raw(b"", ".parquet"), "is empty"),
        Case(
            "Parquet without rows", "parquet", table(lambda f: f.iloc[:0], ".parquet"), "header but no rows"
        ),
        Case(
            "Parquet list column",
            "parquet",
            table(assign(g4=lambda f: [[1.0, 2.0]] * len(f)), ".parquet"),
            "not numeric",
        ),  # fmt: skip
        Case(
            "Parquet datetime column",
            "parquet",
            table(assign(g4=pd.Timestamp("2024-01-01")), ".parquet"),
            "not numeric",
        ),  # fmt: skip
        Case(
            "Parquet duration column",
            "parquet",
            table(assign(g4=pd.Timedelta("1D")), ".parquet"),
            "not numeric",
        ),
        Case(
            "Parquet categorical column",
            "parquet",
            table(assign(g4=lambda f: f["cohort"].astype("category")), ".parquet"),
            "not numeric",
        ),  # fmt: skip
        Case(
            "Parquet nullable ints with NA",
            "parquet",
            table(assign(g4=lambda f: pd.array([1, None] * 60, dtype="Int64")), ".parquet"),
            "non-finite value (nan)",
        ),  # fmt: skip
        Case(
            "Parquet boolean feature",
            "parquet",
            table(assign(g4=lambda f: f["g0"] > 0), ".parquet"),
            ACCEPT,
            "booleans are 0/1",
        ),  # fmt: skip
        Case(
            "Parquet integer column names",
            "parquet",
            table(lambda f: f.rename(columns={"g4": 4}), ".parquet"),
            ACCEPT,
            "names are read as text",
        ),  # fmt: skip
    ]
    return cases
