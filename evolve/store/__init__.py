"""The run store: the only code that touches a run directory's files.

Owns the ``RunStore`` (``run_store``: append records, commit segments and the
atomic checkpoint, read tables while a run is live), the versioned Parquet
schemas (``schema``), the manifest of committed files (``manifest``), file
names and all-or-nothing writes (``files``), random access to programs by id
(``lookup``, and the writer's SQLite copy for it: ``program_index``), the
database's base snapshot and delta log (``database_log``: what makes a
checkpoint incremental), what resume does to a directory a crash left
(``repair``), the checks that what is read back is what was written
(``integrity``: page checksums, code hashes) and run.json/checkpoint.json read
as objects whose missing keys name the file (``json_files``).

May import ``records`` and ``errors``; never the database, mutation, sandboxes
or the engine: it stores what it is given.
"""

from evolve.store.database_log import DatabaseCommit
from evolve.store.run_store import COMPACT_AT, RunStore
from evolve.store.schema import (
    CODE_SCHEMA,
    EVALUATION_SCHEMA,
    EVENT_SCHEMA,
    LLM_CALL_SCHEMA,
    PROGRAM_SCHEMA,
    SCHEMA_VERSION,
    SCHEMAS,
    TABLES,
    evaluation_row,
    program_row,
    row_program,
)

__all__ = [
    "CODE_SCHEMA",
    "COMPACT_AT",
    "EVALUATION_SCHEMA",
    "EVENT_SCHEMA",
    "LLM_CALL_SCHEMA",
    "PROGRAM_SCHEMA",
    "SCHEMAS",
    "SCHEMA_VERSION",
    "TABLES",
    "DatabaseCommit",
    "RunStore",
    "evaluation_row",
    "program_row",
    "row_program",
]
