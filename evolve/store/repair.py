"""What `evolve resume` does to a run directory before writing to it again.

A crash (``kill -9``, power loss) can leave:

* a temp file (``RUN/.tmp/TABLE.NAME``, ``RUN/.checkpoint.json.tmp``): a
  segment, merge or checkpoint being written. Removed: nothing names it.
* loose segments numbered past the checkpoint's count: written, then the
  process died before the checkpoint named them. Removed with a warning: the
  checkpoint's database state does not know their programs, so the resumed
  run redoes those evaluations (keeping them would duplicate programs). A torn
  one (unreadable footer) is removed the same way.
* a merged file (``compact-A-B``) the checkpoint does not name: the merge was
  interrupted before its checkpoint. Removed; the parts it copied are intact.
* parts a named merge covers: the process died after the checkpoint named the
  merge but before deleting them. Removed; the merged file holds their rows.
* bytes of the database's delta log past the length the checkpoint committed
  (an append whose checkpoint was never written): cut off, with a warning; the
  programs they journalled are in segments the checkpoint does not name either,
  so both are redone.
* a database base and delta log the checkpoint does not name: a new base whose
  checkpoint was never written, or an old pair whose deletion the crash
  interrupted. Removed (``evolve.store.database_log``).

Everything the checkpoint names must exist and read: segments are fsynced and
renamed before the checkpoint names them, so a missing or torn committed file
means the storage lost data, or the directory was copied while the run wrote
(copy ``checkpoint.json`` first, or stop the run). Resuming then would give a
database naming programs that are not on disk, so it stops with the file named.

And everything the checkpoint names must be what was written: each committed
file is read in full with its page checksums verified, and every program text
must hash to its ``code_hash`` (``evolve.store.integrity``). A resumed run
breeds from these texts and appends to these tables, so damage found later
would be mixed with new records; found now, it stops the resume with the file
named and nothing written. (This reads the run once: about half a second per
100k programs.)
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow.parquet as pq

from evolve.errors import StoreError
from evolve.records import code_hash
from evolve.store.database_log import DatabaseLog
from evolve.store.files import compact_name, number_of, part_name, range_of
from evolve.store.integrity import check_code, read_parquet
from evolve.store.manifest import Manifest

__all__ = ["repair"]

log = logging.getLogger("evolve.store")


class _Damaged(Exception):
    pass


def _check_readable(path: Path) -> None:
    if not path.is_file():
        raise _Damaged(f"{path}: committed segment is missing")
    try:
        pq.read_metadata(path)
    except Exception as exc:
        raise _Damaged(f"{path}: committed segment is unreadable ({exc})") from exc


def repair(root: Path, manifest: Manifest, database: DatabaseLog | None = None) -> None:
    """Bring ``root`` back to exactly what its checkpoint's ``manifest`` (and the
    ``database`` files it names) hold (see the module docstring)."""
    # Files being written when the run died: RUN/.tmp/* (and, from runs of
    # earlier versions, .NAME.tmp beside their final name).
    for tmp in [*root.glob(".tmp/*"), *root.glob(".*.tmp"), *root.glob("*/.*.tmp")]:
        log.warning("%s: removing a file torn by a crash (%s)", root, tmp.name)
        tmp.unlink()
    try:
        for table in (t for t in manifest.tables if (root / t).is_dir()):
            folder = root / table
            ranges = set(manifest.compacted_ranges(table))
            for path in folder.glob("compact-*.parquet"):
                if range_of(path) not in ranges:
                    log.warning("%s: removing an unfinished merge (%s)", root, path.name)
                    path.unlink()
            for first, last in sorted(ranges):
                _check_readable(folder / compact_name(first, last))
            committed = manifest.count(table)
            present = {number_of(p): p for p in folder.glob("part-*.parquet")}
            for number, path in sorted(present.items()):
                if manifest.covered(table, number):  # merged; the crash came before the delete
                    path.unlink()
                elif number > committed:
                    try:
                        rows = pq.read_metadata(path).num_rows
                        what = f"{rows} record(s) written after the last checkpoint"
                    except Exception:
                        what = "a torn segment"
                    log.warning("%s: dropping %s (%s); the run redoes them", root, what, path.name)
                    path.unlink()
            for number in range(1, committed + 1):
                if not manifest.covered(table, number):
                    _check_readable(folder / part_name(number))
    except _Damaged as exc:
        raise StoreError(
            f"{exc}; the checkpoint names it, so the storage lost data or the run "
            "directory was copied while a run wrote to it: restore it from a backup "
            "(or copy a stopped run)"
        ) from exc
    if database is not None:
        database.repair()
    _verify(root, manifest)


def _verify(root: Path, manifest: Manifest) -> None:
    """Every committed file decodes with its page checksums, every stored text
    hashes to its key (``StoreError`` naming the file otherwise)."""
    for table in (t for t in manifest.tables if (root / t).is_dir()):
        for path in manifest.paths(root, table):
            part = read_parquet(path)
            if table != "code":
                continue
            keys = part.column("code_hash").to_pylist()
            for key, code in zip(keys, part.column("code").to_pylist(), strict=True):
                if code_hash(code) != key:
                    check_code(path, key, code, _program_with(root, manifest, key))


def _program_with(root: Path, manifest: Manifest, key: str) -> str:
    """The id of a program whose code is ``key`` (for the error message)."""
    for path in manifest.paths(root, "programs"):
        part = read_parquet(path, columns=["id", "code_hash"])
        for program_id, program_key in zip(
            part.column("id").to_pylist(), part.column("code_hash").to_pylist(), strict=True
        ):
            if program_key == key:
                return str(program_id)
    return f"(none: no program names code {key})"
