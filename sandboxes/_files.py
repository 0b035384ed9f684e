"""Job files on the host: safe names, a read-only tree, and its removal."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Collection
from pathlib import Path, PurePosixPath

__all__ = ["rmtree", "safe_relpath", "unsafe_names", "write_tree"]


def safe_relpath(name: str) -> str | None:
    """``name`` as a safe relative POSIX path, or None if it could escape the job dir."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or any(part in ("", ".", "..") for part in path.parts):
        return None
    return str(path)


def write_tree(
    root: Path,
    files: dict[str, bytes],
    visible: Collection[str] = (),
    owner: int | None = None,
) -> None:
    """Write ``files`` under ``root`` and make the whole tree read-only.

    With ``owner`` (the scorer's uid; needs root), every file but those named in
    ``visible`` is the owner's alone (0400) and directories can be passed through
    but not listed by anyone else (0511), so the candidate's uid reaches the
    files it may read and no other. Without it, everything is world-readable.
    """
    for rel, data in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        if owner is None or rel in visible:
            target.chmod(0o444)
        else:
            os.chown(target, owner, owner)
            target.chmod(0o400)
    directories = sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True)
    for path in [*directories, root]:
        if owner is None:
            path.chmod(0o555)
        else:
            os.chown(path, owner, owner)
            path.chmod(0o511)


def rmtree(path: str) -> None:
    """Remove a job tree whose directories were made read-only."""
    for dirpath, _, _ in os.walk(path):
        with contextlib.suppress(OSError):
            os.chmod(dirpath, 0o700)
    shutil.rmtree(path, ignore_errors=True)


def unsafe_names(program_name: str, scorer: str, files: dict[str, bytes]) -> str | None:
    """The first file name of a job that could escape its directory, or a clash; else None."""
    program = safe_relpath(program_name)
    bad = [name for name in files if safe_relpath(name) is None]
    if safe_relpath(scorer) is None:
        bad.append(scorer)
    if program is None or bad:
        return f"unsafe file name in the job: {(bad or [program_name])[0]!r}"
    if program in files:
        return f"the problem already has a file named {program!r}"
    return None
