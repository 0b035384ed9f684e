"""Isolation that fails must fail closed: as root, a protection the process sandbox
cannot set up stops it before any job; an unrelated mount no longer breaks the
setup part-way (it used to, and jobs then ran with a host mount writable)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandboxes.job import SandboxSetupError, Status
from sandboxes.process import ROOT_PROMISES, ProcessSandbox
from tests.sandboxes.jobs import IMPORTING_SCORER, make_job

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="mounts and per-job uids need root")


@pytest.fixture
def unrelated_mounts() -> Iterator[list[Path]]:
    """World-writable tmpfs mounts under /tmp and /var, as another program might leave."""
    points = [
        Path(tempfile.mkdtemp(prefix="evolve-unrelated-", dir=d)) for d in ("/tmp", "/var/tmp")
    ]
    for point in points:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m,mode=1777", "tmpfs", str(point)], check=True
        )
    try:
        yield points
    finally:
        for point in points:
            subprocess.run(["umount", str(point)], check=False)
            point.rmdir()


@root_only
def test_an_unrelated_mount_neither_breaks_the_setup_nor_stays_writable(
    unrelated_mounts: list[Path],
) -> None:
    box = ProcessSandbox()
    try:
        assert box.guarantees().private_filesystem
        targets = [str(p / "evolve-pwned") for p in unrelated_mounts]
        code = f"""
        def solve():
            written = 0
            for path in {targets!r}:
                try:
                    with open(path, "w") as f:
                        f.write("x")
                    written += 1
                except OSError:
                    pass
            return written
        """
        result = box.run(make_job(code, IMPORTING_SCORER))
        assert result.status == Status.OK, result.reason
        assert result.metrics["score"] == 0
        assert not any(os.path.exists(t) for t in targets)
    finally:
        box.close()


class _Probed(ProcessSandbox):
    """A process sandbox whose probe found everything but ``missing``."""

    missing = "filesystem"

    def _enforced(self) -> frozenset[str]:
        self._probe_notes = ["no private filesystem ([Errno 2] mount /somewhere: gone)"]
        return ROOT_PROMISES - {self.missing}


@root_only
def test_a_promise_that_cannot_be_kept_stops_the_sandbox_before_any_job() -> None:
    with pytest.raises(SandboxSetupError, match=r"could not set up filesystem .*mount /somewhere"):
        _Probed()


@root_only
def test_every_promise_of_a_root_host_is_enforced_here(sandbox: ProcessSandbox) -> None:
    guarantees = sandbox.guarantees()
    assert guarantees.missing() == [], guarantees
