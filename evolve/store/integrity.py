"""Reading back exactly what was written, or an error naming the file.

A run directory outlives the process that wrote it: it is copied, synced,
archived, left on a disk for months. A flipped bit or an edited file must stop
a reader with the file named, never come back as a valid record (a program's
text under another text's score would mislead every analysis and would be bred
from on resume). Two checks, both cheap next to decoding:

* Every Parquet page is written with a CRC32 (``write_page_checksum``) and read
  with verification, so a changed byte in any table is an error. Files written
  before checksums (schema-1 runs) have none to verify and read as before.
* A program's text is hashed again when it is read back as a ``Program``
  (``get_program``, ``load_programs``, hence ``evolve.Run.code``, the report and
  export) and on resume, and must equal its ``code_hash``: a page checksum
  cannot catch a text rewritten with a tool that writes fresh checksums.

Raw table reads (``RunStore.read_table("code")``) return the rows as stored,
page-verified; the hash check belongs to the readers that turn rows into
programs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from evolve.errors import StoreError
from evolve.records import code_hash

__all__ = ["DAMAGED_FIX", "check_code", "damaged", "decoding", "open_parquet", "read_parquet"]

DAMAGED_FIX = "the run directory was modified or the disk corrupted it; restore it from a backup"


def damaged(path: Path, what: str) -> StoreError:
    """The error for a committed file whose content is not what was written."""
    return StoreError(f"{path}: {what}; {DAMAGED_FIX}")


@contextmanager
def decoding(path: Path) -> Iterator[None]:
    """Reads of ``path`` inside the block that fail to decode raise ``StoreError``
    naming it (a failed page checksum is an ``OSError`` from pyarrow). A file
    that is not there raises ``FileNotFoundError`` unchanged: a reader racing a
    live run's merge re-reads the manifest on it."""
    try:
        yield
    except FileNotFoundError:
        raise
    except (OSError, pa.ArrowInvalid) as exc:
        raise damaged(path, f"unreadable Parquet ({exc})") from exc


def read_parquet(path: Path, **options: Any) -> pa.Table:
    """``pq.read_table(path, **options)`` with every page checksum verified."""
    with decoding(path):
        return pq.read_table(path, page_checksum_verification=True, **options)


def open_parquet(path: Path) -> pq.ParquetFile:
    """A ``ParquetFile`` whose reads verify page checksums (wrap them in
    ``decoding(path)``)."""
    with decoding(path):
        return pq.ParquetFile(path, page_checksum_verification=True)


def check_code(path: Path, expected_hash: str, code: str, program_id: str) -> str:
    """``code`` if it hashes to ``expected_hash``; otherwise the stored text of
    ``program_id`` (read from ``path``) was changed after it was scored."""
    if code_hash(code) != expected_hash:
        raise damaged(
            path,
            f"the text of program {program_id} does not match its code_hash {expected_hash} "
            "(it is not the text that was scored)",
        )
    return code
