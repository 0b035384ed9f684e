"""A derived random-access copy of a run's programs, for the run's own reads.

The database keeps only metadata in memory and asks the store for a program's
code whenever it picks a parent or an inspiration. From Parquet, a program the
caches do not hold costs a row-group read of two tables (about 0.35 ms each at
any size, plus converting the rows), and in a large run most inspirations are
such misses: the controller's cost per candidate grew with the run (0.56 ms at
100k programs, 3.4 ms at 1M). This index answers the same question from an
SQLite file (``RUN/index.sqlite``, Python's standard library) in about 20 us at
any size, so the cost stays flat.

It is never the record: Parquet is. The index holds exactly the committed
parts of ``programs`` and ``code`` (each row tagged with its part number), and
is brought back to exactly that when the writer opens it: rows of parts past
the checkpoint (a commit that died before its checkpoint) are deleted, parts
the index lacks (it is new, deleted, or an older evolve wrote the run) are
read from Parquet and inserted. Each row carries its CRC-32 (long texts are also
zlib-compressed), so a changed byte is found, and a text read back is still
hashed against its ``code_hash``. Any trouble with the file (damage, a full disk, a lock) turns the
index off with a warning and the run goes on reading Parquet, as it did before
the index existed: the file can be deleted at any time, and is rebuilt at the
next resume. It costs about as much disk as the two tables it copies.

Only the process that writes a run uses it; readers (``evolve show``,
notebooks) read Parquet, so a live run's index is never read while written.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from evolve.store.integrity import read_parquet
from evolve.store.manifest import Manifest

__all__ = ["INDEX_FILE", "IndexUnusable", "ProgramIndex", "record_parts"]

log = logging.getLogger("evolve.store")

INDEX_FILE = "index.sqlite"
VERSION = 1  # of the file's layout; another version is rebuilt from Parquet
_TABLES = ("programs", "code")
_CHUNK = 4096  # rows per insert batch while catching up


class IndexUnusable(Exception):
    """The index cannot answer (damaged, locked, disk full): read Parquet instead."""


class ProgramIndex:
    """id -> (program row, code) for the committed programs of one run."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path
        self.usable = True

    def disable(self) -> None:
        """Stop using the index and delete its file (it was found damaged or
        could not be written): the next resume builds a fresh one."""
        self.usable = False
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                self.path.with_name(self.path.name + suffix).unlink()

    # -- opening and catching up ------------------------------------------------------

    @classmethod
    def open(
        cls, root: Path, manifest: Manifest, identity: str, token: str | None
    ) -> ProgramIndex | None:
        """The run's index, brought to exactly what ``manifest`` commits; None
        (with a warning) if the file cannot be used, so the caller reads Parquet.

        ``identity`` names the run (its creation time in run.json): an index
        copied in from another run is rebuilt, not trusted. ``token`` is the one
        the checkpoint holds (``record`` writes a new one per commit): the index
        is trusted when it holds that token, cut back when it is one commit
        ahead of it, and rebuilt otherwise (a lost write, or commits made by an
        evolve that did not keep the index).
        """
        path = root / INDEX_FILE
        try:
            index = cls(_connect(path), path)
            index._prepare(identity, token)
            index._catch_up(root, manifest)
            return index
        except (sqlite3.Error, zlib.error, OSError, ValueError) as exc:
            log.warning(
                "%s: the program index cannot be used (%s); the run reads programs "
                "from the Parquet tables instead (slower in large runs). Delete the "
                "file to have the next resume rebuild it.",
                path,
                exc,
            )
            return None

    def _prepare(self, identity: str, token: str | None) -> None:
        db = self._db
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        same_run = meta.get("version") == str(VERSION) and meta.get("identity") == identity
        current = token is not None and token in (meta.get("token"), meta.get("previous"))
        if meta and not (same_run and current):
            log.info("%s: not in step with the checkpoint; rebuilding it", self.path)
            with db:
                db.execute("DROP TABLE IF EXISTS programs")
                db.execute("DROP TABLE IF EXISTS code")
                db.execute("DELETE FROM meta")
        with db:
            # rowid tables with a unique key: rows append, and only the small
            # key index takes inserts at random places (code hashes are random;
            # keyed by them directly, a commit of 256 rows took ~19 ms, not ~2)
            db.execute(
                "CREATE TABLE IF NOT EXISTS programs (id TEXT NOT NULL UNIQUE, part INTEGER "
                "NOT NULL, code_hash TEXT NOT NULL, row BLOB NOT NULL)"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS code (code_hash TEXT NOT NULL UNIQUE, part INTEGER "
                "NOT NULL, code BLOB NOT NULL)"
            )
            db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [("version", str(VERSION)), ("identity", identity), ("token", token or "")],
            )
            db.execute("DELETE FROM meta WHERE key = 'previous'")
            for table in _TABLES:
                db.execute("INSERT OR IGNORE INTO meta VALUES (?, '0')", (f"parts.{table}",))

    def parts(self, table: str) -> int:
        """The parts of ``table`` the index holds (1..this)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (f"parts.{table}",))
        return int(row.fetchone()[0])

    def _catch_up(self, root: Path, manifest: Manifest) -> None:
        for table in _TABLES:
            held, committed = self.parts(table), manifest.count(table)
            if held > committed:  # a commit died between the index and its checkpoint
                with self._db:
                    self._db.execute(f"DELETE FROM {table} WHERE part > ?", (committed,))
                    self._set_parts(table, committed)
            elif held < committed:
                log.info("%s: adding parts %d..%d of %s", self.path, held + 1, committed, table)
                for path, last in manifest.files(root, table):
                    if last <= held:
                        continue
                    # a merged file's rows are all tagged with its last part:
                    # all are committed, and a cut never reaches below that
                    rows = read_parquet(path).to_pylist()
                    for start in range(0, len(rows), _CHUNK):
                        with self._db:
                            self._insert(table, rows[start : start + _CHUNK], last)
                with self._db:
                    self._set_parts(table, committed)

    def _set_parts(self, table: str, parts: int) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"parts.{table}", str(parts))
        )

    # -- writing ----------------------------------------------------------------------

    def record(self, new_parts: dict[str, tuple[int, list[dict[str, Any]]]]) -> str:
        """Rows just written as part ``n`` of their table, in one transaction
        with the part counts and a new token (called after the Parquet files
        are in place and before the checkpoint names them; the checkpoint then
        holds the returned token). Raises ``IndexUnusable``."""
        token = secrets.token_hex(8)
        try:
            with self._db:
                for table, (part, rows) in new_parts.items():
                    self._insert(table, rows, part)
                    self._set_parts(table, part)
                self._db.execute(
                    "INSERT OR REPLACE INTO meta SELECT 'previous', value FROM meta "
                    "WHERE key = 'token'"
                )
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('token', ?)", (token,))
            return token
        except sqlite3.Error as exc:
            raise IndexUnusable(f"{self.path}: {exc}") from exc

    def _insert(self, table: str, rows: Iterable[dict[str, Any]], part: int) -> None:
        if table == "programs":
            self._db.executemany(
                "INSERT OR REPLACE INTO programs (id, part, code_hash, row) VALUES (?, ?, ?, ?)",
                ((r["id"], part, r["code_hash"], _pack(json.dumps(r))) for r in rows),
            )
        elif table == "code":
            # the first part that held a text keeps it: a cut past the checkpoint
            # must not delete a text an earlier, committed part also holds
            self._db.executemany(
                "INSERT OR IGNORE INTO code (code_hash, part, code) VALUES (?, ?, ?)",
                ((r["code_hash"], part, _pack(r["code"])) for r in rows),
            )

    # -- reading ----------------------------------------------------------------------

    def get(self, program_id: str) -> tuple[dict[str, Any], str] | None:
        """The program's row and text, or None if the index does not hold it.
        Raises ``IndexUnusable`` if the file cannot be read or a row is damaged."""
        try:
            found = self._db.execute(
                "SELECT p.row, c.code FROM programs p JOIN code c ON c.code_hash = p.code_hash "
                "WHERE p.id = ?",
                (program_id,),
            ).fetchone()
            if found is None:
                return None
            return json.loads(_unpack(found[0])), _unpack(found[1])
        except (sqlite3.Error, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise IndexUnusable(f"{self.path}: {exc}") from exc

    def ids(self) -> Iterator[str]:
        """Every program id the index holds (for tests and checks)."""
        for (program_id,) in self._db.execute("SELECT id FROM programs ORDER BY id"):
            yield program_id

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.close()


def _connect(path: Path) -> sqlite3.Connection:
    # autocommit off: transactions are the ``with`` blocks. WAL: a commit appends,
    # readers of its own connection never block. synchronous NORMAL: a power loss
    # may lose the last transactions, which the next open finds missing (part
    # counts) and adds again from Parquet; a kill -9 loses nothing.
    db = sqlite3.connect(path, isolation_level="DEFERRED", check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


_COMPRESS_AT = 1024  # bytes: below it zlib's set-up costs more than it saves


def _pack(text: str) -> bytes:
    """The text with its CRC-32 (4 bytes) and a flag, zlib-compressed when long."""
    raw = text.encode("utf-8")
    crc = zlib.crc32(raw).to_bytes(4, "little")
    if len(raw) >= _COMPRESS_AT:
        return b"z" + crc + zlib.compress(raw, 1)
    return b"r" + crc + raw


def _unpack(blob: bytes) -> str:
    """The text ``_pack`` stored; ``zlib.error`` if its bytes changed."""
    flag, crc, body = blob[:1], blob[1:5], blob[5:]
    if flag == b"z":
        raw = zlib.decompress(body)
    elif flag == b"r":
        raw = body
    else:
        raise zlib.error(f"a row of the index has an unknown flag {flag!r}")
    if zlib.crc32(raw).to_bytes(4, "little") != crc:
        raise zlib.error("a row of the index does not match its CRC-32")
    return raw.decode("utf-8")


def record_parts(
    index: ProgramIndex | None, new_parts: dict[str, tuple[int, list[dict[str, Any]]]]
) -> str | None:
    """Add a commit's new parts of programs and code to ``index``; the token for
    the checkpoint, or None when there is no usable index (a resume then
    rebuilds it). An index that cannot take them is turned off, with a warning,
    and the run goes on reading Parquet."""
    if index is None or not index.usable:
        return None
    try:
        return index.record({t: new_parts[t] for t in _TABLES if t in new_parts})
    except IndexUnusable as exc:
        log.warning(
            "%s; the run goes on reading programs from the Parquet tables (the index "
            "is deleted, and rebuilt at the next resume)",
            exc,
        )
        index.disable()
        return None
