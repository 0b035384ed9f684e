"""run.json and checkpoint.json read back as JSON objects that name their file.

Both are written by evolve, whole and atomically, so a file that is not a JSON
object, or an object that lacks a key evolve reads, means the file was edited
or the storage damaged it. That is the user's to fix (restore the run), so it
must be one ``StoreError`` naming the file, the key and the fix, never a
``JSONDecodeError`` or a ``KeyError`` traceback from whichever reader happened
to index it first (``evolve resume`` reads ``settings["seed"]``, ``evolve
show`` reads ``objective["direction"]``). ``StoredObject`` is a ``dict`` whose
missing key raises that error, so every reader gets it without a check of its
own; ``.get`` with a default still means "optional".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

from evolve.errors import StoreError

__all__ = ["CHECKPOINT_FIX", "RUN_JSON_FIX", "StoredObject", "read_object"]

RUN_JSON_FIX = (
    "run.json is written once, when the run is created, so the file was edited or the "
    "disk damaged it: restore it from a backup (or put back what `evolve run` wrote)"
)
CHECKPOINT_FIX = (
    "it is only ever replaced atomically, so the storage lost data: restore the run from a backup"
)
_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number"}


class StoredObject(dict[str, Any]):
    """A JSON object read from ``path``: a missing key is a ``StoreError`` naming
    the file, the key (dotted, for nested objects) and ``fix``."""

    def __init__(self, data: dict[str, Any], path: Path, fix: str, prefix: str = "") -> None:
        super().__init__(data)
        self.path, self.fix, self.prefix = path, fix, prefix

    def __missing__(self, key: str) -> NoReturn:
        raise StoreError(f"{self.path}: has no key '{self.prefix}{key}'; {self.fix}")


def _wrap(data: dict[str, Any], path: Path, fix: str, prefix: str) -> StoredObject:
    return StoredObject(
        {
            k: _wrap(v, path, fix, f"{prefix}{k}.") if isinstance(v, dict) else v
            for k, v in data.items()
        },
        path,
        fix,
        prefix,
    )


def read_object(path: Path, fix: str, nested: bool = True) -> StoredObject:
    """The JSON object in ``path``; ``nested``: its nested objects name their
    missing keys too (run.json; the checkpoint's large database state is left
    as plain dicts, read by code that checks it)."""
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise StoreError(f"{path}: cannot be read ({exc}); check its permissions") from exc
    except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
        raise StoreError(f"{path}: not valid JSON ({exc}); {fix}") from exc
    if not isinstance(data, dict):
        kind = _JSON_TYPES.get(type(data), "a JSON value")
        raise StoreError(f"{path}: holds {kind}, not a JSON object; {fix}")
    return _wrap(data, path, fix, "") if nested else StoredObject(data, path, fix)
