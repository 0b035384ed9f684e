"""Files of a run directory: their names, and writes that are all or nothing.

Every write here leaves either the old bytes or the new ones: a temp file is
written, fsynced and renamed, and the folder is fsynced so the rename itself
survives a power loss. Table files are written in ``RUN/.tmp/`` and renamed
into their table folder, so a folder only ever holds complete Parquet files,
each page with a CRC32 that readers verify (``evolve.store.integrity``).

A full disk (``ENOSPC``, or a quota: ``EDQUOT``) is the user's to fix, not a
bug: it raises ``StoreError`` naming the file, the temp file is removed (it
would only take space; an append is cut back to where it started), and since
the checkpoint is written last, the previous checkpoint and every file it
names are untouched.

The one file written in place is the database's delta log (``append_at``): it
is append-only, and its readers read only the length a checkpoint committed,
so bytes past that length (an append the checkpoint never named) are invisible
to them and are overwritten by the next append.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from evolve.errors import StoreError

__all__ = [
    "TMP_DIR",
    "append_at",
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


def _run_dir_of(path: Path) -> Path:
    """The run directory ``path`` belongs to (the nearest folder with a run.json)."""
    for folder in path.parents:
        if (folder / "run.json").is_file():
            return folder
    return path.parent if path.suffix == ".json" else path.parent.parent


@contextmanager
def _disk_full_is_a_store_error(path: Path, undo: Callable[[], None]) -> Iterator[None]:
    """An ``ENOSPC``/``EDQUOT`` while ``path`` is written becomes a ``StoreError``
    naming it; on any error ``undo`` removes what was half written (a temp file)."""
    try:
        yield
    except OSError as exc:
        with suppress(OSError):  # best effort: what is left past the committed length is never read
            undo()
        if exc.errno not in _DISK_FULL:
            raise
        full = f"{path}: no space left on the device while writing it ({exc.strerror or exc})"
        if path.name == "run.json":  # creating the run: there is nothing to resume yet
            raise StoreError(f"{full}; free space on that disk and start the run again") from exc
        run_dir = _run_dir_of(path)
        raise StoreError(
            f"{full}; nothing committed so far is lost: the previous checkpoint.json stays "
            "valid and names only complete files (the records of this commit are not in it). "
            f"Free space on that disk, then `evolve resume {run_dir}` continues from there"
        ) from exc


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` holds either the old or the new bytes."""
    tmp = path.with_name(f".{path.name}.tmp")
    with _disk_full_is_a_store_error(path, lambda: tmp.unlink(missing_ok=True)):
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
    with _disk_full_is_a_store_error(path, lambda: tmp.unlink(missing_ok=True)):
        _write_table(table, tmp, write_page_checksum=True, **options)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)


def append_at(path: Path, offset: int, data: bytes) -> None:
    """Write ``data`` at ``offset`` of the existing file ``path`` (its committed
    length), dropping whatever lay past it, and fsync. Bytes past ``offset`` were
    never committed, so overwriting them loses nothing; on an error the file is
    cut back to ``offset``. The caller created the file and fsynced its folder."""

    def cut_back() -> None:
        os.truncate(path, offset)

    with _disk_full_is_a_store_error(path, cut_back), open(path, "r+b") as f:
        f.seek(offset)
        f.truncate()
        _write_bytes(f, data)
        f.flush()
        os.fsync(f.fileno())
