"""The laptop path (not root), exercised from a root CI machine by dropping to uid 1000."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evaluators import _fs, _linux

HERE = Path(__file__).resolve().parent
USER = 1000


def closed_ancestor(path: str) -> str | None:
    """The first directory above ``path`` that other users cannot enter."""
    parts = Path(path).parts
    for i in range(2, len(parts)):
        ancestor = str(Path(*parts[:i]))
        if not os.stat(ancestor).st_mode & 0o001:
            return ancestor
    return None


def become_unprivileged(prefix: str, closed: str | None) -> None:
    """In the child before exec: keep the interpreter reachable, then drop root for good."""
    _linux.unshare(_linux.CLONE_NEWNS)
    _linux.mount("none", "/", None, _linux.MS_REC | _linux.MS_PRIVATE, None)
    if closed is not None:  # e.g. pyenv under a 0700 /root: re-expose only the prefix
        keep = os.open(prefix, os.O_PATH)
        _linux.mount("tmpfs", closed, "tmpfs", 0, "mode=755")
        _fs._bind_readonly(keep, prefix)
    os.setgroups([])
    os.setresgid(USER, USER, USER)
    os.setresuid(USER, USER, USER)


def test_unprivileged_host_keeps_deadlines_limits_and_tree_kill() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to impersonate an unprivileged user")
    if closed_ancestor(str(HERE)) is not None:
        pytest.skip("the repository is not readable by other users")
    prefix = os.path.realpath(sys.base_prefix)
    closed = closed_ancestor(prefix)
    proc = subprocess.run(
        [sys.executable, str(HERE / "unprivileged_run.py")],
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
        cwd="/tmp",
        preexec_fn=lambda: become_unprivileged(prefix, closed),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    facts = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    assert facts["host_uid"] == USER
    assert facts["status"] == "ok"
    assert facts["candidate_uid"] == float(USER)  # no per-job uid without root ...
    assert any("network" in line for line in facts["missing"])  # ... and it says so
    assert facts["grandchild_alive"] is False  # the subreaper still catches escapees
    assert facts["loop_status"] == "timeout"
    assert facts["big_status"] == "oom"
