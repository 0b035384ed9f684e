"""Host job directories: private (0700), named by their owner, swept when it is gone.

``kill -9`` of a run used to leave /tmp/evolve-* behind, holding candidate code
and the problem's scorer files (the Docker ones world-listable)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

from sandboxes._workdirs import make_workdir, sweep_orphans
from sandboxes.docker.container import WORKDIR_PREFIX as DOCKER_PREFIX
from sandboxes.process import WORKDIR_PREFIX, ProcessSandbox

REPO = Path(__file__).resolve().parents[2]


def made_by_a_dead_process(prefix: str) -> Path:
    """A work directory whose owner exited without removing it (as after SIGKILL)."""
    code = (
        "import sys; from sandboxes._workdirs import make_workdir; "
        f"path = make_workdir({prefix!r}); open(path + '/scorer.py', 'w').write('secret'); "
        "print(path)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    return Path(out.stdout.strip())


def test_a_work_directory_is_private_and_names_its_owner() -> None:
    path = Path(make_workdir("evolve-test-"))
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
        assert path.name.startswith(f"evolve-test-{os.getpid()}-")
        assert sweep_orphans("evolve-test-") == 0 and path.exists()  # its owner is alive
    finally:
        path.rmdir()


def test_the_directories_of_dead_owners_are_swept_and_live_ones_kept() -> None:
    dead = [made_by_a_dead_process(p) for p in (WORKDIR_PREFIX, DOCKER_PREFIX)]
    assert all(p.is_dir() for p in dead)
    mine = Path(make_workdir(WORKDIR_PREFIX))
    try:
        assert sweep_orphans(WORKDIR_PREFIX) >= 1
        assert sweep_orphans(DOCKER_PREFIX) >= 1
        assert not any(p.exists() for p in dead)
        assert mine.exists()
    finally:
        mine.rmdir()


def test_a_new_sandbox_removes_what_a_killed_one_left() -> None:
    code = (
        "import time; from sandboxes.process import ProcessSandbox; "
        "from tests.sandboxes.jobs import make_job; box = ProcessSandbox(); "
        "box.run(make_job('def solve():\\n    return 1\\n')); print(box._root, flush=True); "
        "time.sleep(60)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    try:
        assert proc.stdout is not None
        left = Path(proc.stdout.readline().strip())
        assert left.is_dir() and left.name.startswith(f"{WORKDIR_PREFIX}{proc.pid}-")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    ProcessSandbox().close()  # sweeps at start-up
    assert not left.exists()
