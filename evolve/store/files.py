"""Files of a run directory: their names, and writes that are all or nothing.

Every write here leaves either the old bytes or the new ones: a temp file is
written, fsynced and renamed, and the folder is fsynced so the rename itself
survives a power loss. Table files are written in ``RUN/.tmp/`` and renamed
into their table folder, so a folder only ever holds complete Parquet files,
each page with a CRC32 that readers verify (``evolve.store.integrity``).

A full disk (``ENOSPC``, or a quota: ``EDQUOT``) is the user's to fix, not a
bug: it raises ``StoreError`` naming the file, the temp file is removed (it
would only take space), and since the checkpoint is written last, the previous
checkpoint and every file it names are untouched.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from evolve.errors import StoreError

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
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}


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


# The two low-level writes, one place each (a test fills the disk by replacing them).
def _write_bytes(f: BinaryIO, data: bytes) -> None:
    f.write(data)


def _write_table(table: pa.Table, path: Path, **options: Any) -> None:
    pq.write_table(table, path, **options)


@contextmanager
def _disk_full_is_a_store_error(path: Path, tmp: Path) -> Iterator[None]:
    """An ``ENOSPC``/``EDQUOT`` while ``path`` is written (through ``tmp``)
    becomes a ``StoreError`` naming it; ``tmp`` is removed either way."""
    try:
        yield
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno not in _DISK_FULL:
            raise
        full = f"{path}: no space left on the device while writing it ({exc.strerror or exc})"
        if path.name == "run.json":  # creating the run: there is nothing to resume yet
            raise StoreError(f"{full}; free space on that disk and start the run again") from exc
        run_dir = path.parent if path.suffix == ".json" else path.parent.parent
        raise StoreError(
            f"{full}; nothing committed so far is lost: the previous checkpoint.json stays "
            "valid and names only complete files (the records of this commit are not in it). "
            f"Free space on that disk, then `evolve resume {run_dir}` continues from there"
        ) from exc


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` holds either the old or the new bytes."""
    tmp = path.with_name(f".{path.name}.tmp")
    with _disk_full_is_a_store_error(path, tmp):
        with open(tmp, "wb") as f:
            _write_bytes(f, data)
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
    with _disk_full_is_a_store_error(path, tmp):
        _write_table(table, tmp, write_page_checksum=True, **options)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
