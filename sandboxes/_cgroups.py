"""A CPU share per job for the process sandbox (root only): a cgroup with a quota.

Why: ``resources.cpus`` was not enforced on the host. A candidate that starts
sixty busy processes (each in a session of its own) starved a concurrent
candidate into a timeout and the controller down to a few percent of a CPU.
Each job now runs in a cgroup of its own whose CPU quota is its ``cpus``, as a
Docker container's ``nano_cpus`` is: cgroup v2 ``cpu.max``, or the v1 cpu
controller's ``cpu.cfs_quota_us``. The host creates the cgroup and sets its
quota; the job's supervisor joins it before it forks anything; the cgroup is
removed when the job's processes are gone.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["CpuCgroups"]

_V2_ROOT = Path("/sys/fs/cgroup")
_V1_CPU = Path("/sys/fs/cgroup/cpu")
_PERIOD_US = 100_000


class CpuCgroups:
    """Per-job cgroups with a CPU quota under ``<hierarchy>/<parent>``.

    ``available`` says whether this host lets us create them (root, a writable
    cgroup v2 hierarchy with the cpu controller, or a v1 cpu hierarchy);
    ``why_not`` says why when it does not.
    """

    def __init__(self, parent: str) -> None:
        self.available = False
        self.why_not = ""
        self._v2 = False
        self._base: Path | None = None
        try:
            self._base = self._setup(parent)
            self.available = True
        except OSError as exc:
            self.why_not = f"no CPU cgroup ({exc})"

    def _setup(self, parent: str) -> Path:
        controllers = _V2_ROOT / "cgroup.controllers"
        if controllers.is_file() and "cpu" in controllers.read_text().split():
            self._v2 = True
            subtree = _V2_ROOT / "cgroup.subtree_control"
            if "cpu" not in subtree.read_text().split():
                subtree.write_text("+cpu")
            base = _V2_ROOT / parent
            base.mkdir(exist_ok=True)
            (base / "cgroup.subtree_control").write_text("+cpu")
            return base
        if (_V1_CPU / "cpu.cfs_quota_us").is_file():
            base = _V1_CPU / parent
            base.mkdir(exist_ok=True)
            return base
        raise OSError(0, "neither a cgroup v2 cpu controller nor a v1 cpu hierarchy is mounted")

    def create(self, name: str, cpus: float) -> str:
        """A cgroup for one job, limited to ``cpus`` CPUs; returns the file the
        job's supervisor writes its pid to (``cgroup.procs``)."""
        assert self._base is not None
        path = self._base / name
        path.mkdir()
        quota = max(1000, round(cpus * _PERIOD_US))
        if self._v2:
            (path / "cpu.max").write_text(f"{quota} {_PERIOD_US}")
        else:
            (path / "cpu.cfs_period_us").write_text(str(_PERIOD_US))
            (path / "cpu.cfs_quota_us").write_text(str(quota))
        return str(path / "cgroup.procs")

    def remove(self, procs_file: str, timeout_s: float = 5.0) -> None:
        """Remove a job's cgroup once its processes are gone (they have been killed;
        the kernel may take a moment to let the last ones go)."""
        path = Path(procs_file).parent
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    return  # busy: left for the next start-up's sweep
                time.sleep(0.01)

    def sweep(self, owner_alive: Callable[[str], bool]) -> None:
        """Remove empty job cgroups that a killed sandbox left behind, never one
        whose owner (``owner_alive(name)``) still runs: a sandbox starting in
        another process on this host (another Ray worker, another run) must not
        remove the cgroup a live sandbox just made for a job whose supervisor
        has not joined it yet, which failed that job (an innocent candidate
        scored as an error)."""
        if self._base is None:
            return
        for child in self._base.iterdir():
            if child.is_dir() and not owner_alive(child.name):
                with contextlib.suppress(OSError):
                    child.rmdir()
