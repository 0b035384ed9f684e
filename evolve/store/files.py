"""Files of a run directory: their names, and writes that are all or nothing.

Every write here leaves either the old bytes or the new ones: a temp file is
written, fsynced and renamed, and the folder is fsynced so the rename itself
survives a power loss. Table files are written in ``RUN/.tmp/`` and renamed
into their table folder, so a folder only ever holds complete Parquet files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "TMP_DIR",
    "compact_name",
    "fsync_dir",
    "number_of",
    "part_name",
    "range_of",
    "write_atomic",
    "write_parquet",
]

TMP_DIR = ".tmp"  # under RUN/: files being written, never inside a table folder


def part_name(number: int) -> str:
    """The file of the ``number``-th committed segment of a table."""
    return f"part-{number:06d}.parquet"


def compact_name(first: int, last: int) -> str:
    """The file that merges parts ``first..last`` of a table."""
    return f"compact-{first:06d}-{last:06d}.parquet"


def number_of(path: Path) -> int:
    """The number of a ``part-NNNNNN`` file."""
    return int(path.stem.split("-")[1])


def range_of(path: Path) -> tuple[int, int]:
    """The parts a ``compact-AAAAAA-BBBBBB`` file covers."""
    _, first, last = path.stem.split("-")
    return int(first), int(last)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` holds either the old or the new bytes."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_parquet(table: pa.Table, path: Path, **options: Any) -> None:
    """A complete, fsynced file at ``path`` or nothing there. It is written in
    ``RUN/.tmp/`` and renamed into its table folder, so a folder only ever holds
    complete files: even readers that do not skip hidden files (polars reading
    a folder) never meet a half-written one. Every page carries a checksum, so
    a byte changed later is reported on read. The caller fsyncs the folder."""
    tmp = path.parent.parent / TMP_DIR / f"{path.parent.name}.{path.name}"
    tmp.parent.mkdir(exist_ok=True)
    pq.write_table(table, tmp, write_page_checksum=True, **options)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
