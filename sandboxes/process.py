"""ProcessSandbox: score a candidate in a supervised child process tree on this machine.

Per job: a fresh directory (problem files read-only, the candidate as
``job.program_name``, a scratch dir used as HOME and cwd), a clean environment
(PATH, LANG, HOME, PYTHONPATH for the evaluators library, thread counts; no
variable of this process leaks through) and a supervisor
(:mod:`evaluators.supervisor`) forked in a new session by a warm fork server
(:mod:`evaluators.forkserver`, started once with this interpreter, ``-S -s``,
and the sandbox's private copy of ``evaluators``). The supervisor isolates,
forks the harness, enforces the deadline and kills the whole tree; this side
keeps an outer deadline (timeout x 1.5 + 10 s) in case the supervisor hangs, and
validates the envelope it gets back (:func:`sandboxes.envelope.parse_envelope`).

Interpreter start-up is paid once per sandbox, not per job: a trivial job
costs about 15-20 ms end to end. The import path the job sees is this
interpreter's own (standard library and site-packages, not the current
directory), so scorers and candidates can use what is installed here, numpy
included; ``.pth`` import hooks (editable installs) are not run.

What is enforced depends on the host (see :meth:`ProcessSandbox.guarantees`):
as root, a per-job uid, no network and a private filesystem view; otherwise
rlimits, parent-death signals and the subreaper only. Jobs never run with less
than :meth:`guarantees` promised: the supervisor refuses instead.
"""

from __future__ import annotations

import compileall
import itertools
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import weakref
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from evaluators import contract
from sandboxes._cgroups import CpuCgroups
from sandboxes._files import rmtree as _rmtree
from sandboxes._files import unsafe_names
from sandboxes._files import write_tree as _write_tree
from sandboxes._forkserver import ForkServer
from sandboxes._uids import UidLease, UidPool, kill_uid_processes
from sandboxes._workdirs import make_workdir, named_owner_alive, sweep_orphans
from sandboxes.envelope import error_result, parse_envelope
from sandboxes.job import EvalJob, EvalResult, Guarantees, Probes, SandboxSetupError, Status
from sandboxes.packages import ensure_local_packages

__all__ = ["ProcessSandbox"]

log = logging.getLogger(__name__)

_GRACE_S = 10.0
WORKDIR_PREFIX = "evolve-sandbox-"
# What a job gets on a root host, every one checked at start-up (see _check_promises).
ROOT_PROMISES = frozenset(
    {"uid", "network", "filesystem", "processes", "hidden_files", "ipc", "tree", "syscalls"}
    | {"pids", "cpu"}
)


def _copy_library(lib: str) -> None:
    """A private, read-only, precompiled copy of the evaluators package under ``lib``."""
    package = os.path.join(lib, "evaluators")
    source = Path(contract.__file__).parent
    for module in source.rglob("*.py"):  # compat/ (peers' helper modules) included
        target = Path(package, module.relative_to(source))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(module, target)
    compileall.compile_dir(package, quiet=1)
    for dirpath, _, filenames in os.walk(lib):
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o444)
        os.chmod(dirpath, 0o555)


class ProcessSandbox:
    """Runs jobs in supervised process trees on this machine.

    ``run(job)`` may be called from many threads at once and never raises for
    anything a candidate or scorer does; ``guarantees()`` says what this host
    enforces (a warning is logged once when something is missing); ``close()``
    stops the fork server, kills running jobs and removes the sandbox's files
    (also done at interpreter exit). As root, concurrent jobs run as distinct
    uids ``uid_base .. uid_base + uid_slots - 1``, shared safely with other
    sandboxes on the machine that use the same range. ``requirements``: the
    problem's scorer packages, installed once into a cached folder on the jobs'
    import path (:mod:`sandboxes.packages`).
    """

    name = "process"

    def __init__(
        self, uid_base: int = 61000, uid_slots: int = 256, requirements: Sequence[str] = ()
    ) -> None:
        prefixes = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
        self._sys_path = [p for p in sys.path if p and p.startswith(prefixes) and os.path.exists(p)]
        # the problem's scorer packages, after the interpreter's own (which they
        # never replace: see sandboxes.packages)
        packages = ensure_local_packages(requirements, self._sys_path, "[sandbox] requirements")
        self._packages = [] if packages is None else [packages]  # also for Pythons a job starts
        self._sys_path += self._packages
        sweep_orphans(WORKDIR_PREFIX)  # what sandboxes killed with SIGKILL left
        self._root = make_workdir(WORKDIR_PREFIX)
        self._cgroups = CpuCgroups("evolve") if os.geteuid() == 0 else None
        if self._cgroups is not None:
            self._cgroups.sweep(lambda name: named_owner_alive(WORKDIR_PREFIX, name))
        self._jobs = itertools.count()
        self._lib = os.path.join(self._root, "lib")
        try:
            _copy_library(self._lib)
        except BaseException:
            _rmtree(self._root)
            raise
        self._root_mode = os.geteuid() == 0
        self._uids = UidPool(uid_base, uid_slots) if self._root_mode else None
        self._server = ForkServer(self._env(self._root, 1, 0), os.path.join(self._root, "log"))
        self._lock = threading.Lock()
        self._running: set[int] = set()  # pids of job supervisors (session leaders)
        self._probe: frozenset[str] | None = None
        self._probe_notes: list[str] = []
        self._closed = False
        # Even if close() is never called, stop the server and remove the files at exit.
        self._finalizer = weakref.finalize(self, _shutdown, self._server, self._root, self._running)
        if self._root_mode:
            self._check_promises()

    def _check_promises(self) -> None:
        """As root every protection is promised: one that cannot be set up on this
        host stops the sandbox here, before any job, instead of running jobs
        without it (a failed isolation step used to show only as a warning)."""
        missing = sorted(ROOT_PROMISES - self._enforced())
        if missing:
            notes = "; ".join(self._probe_notes) or "no detail from the probe"
            self.close()
            raise SandboxSetupError(
                f"the process sandbox runs as root but could not set up {', '.join(missing)} "
                f"on this host ({notes}). Fix that on the host, or use --sandbox docker, "
                "or run evolve as an unprivileged user to accept the weaker guarantees the "
                "README lists for that case"
            )

    # -- capabilities -----------------------------------------------------------------

    def guarantees(self) -> Guarantees:
        """What a job gets on this host (probed once, by the same code path as a job)."""
        enforced = self._enforced()
        return Guarantees(
            separate_uid="uid" in enforced,
            no_network="network" in enforced,
            private_filesystem="filesystem" in enforced,
            process_limit="processes" in enforced,
            tree_kill="tree" in enforced,
            syscall_filter="syscalls" in enforced,
            hidden_scorer_files="hidden_files" in enforced,
            private_processes="pids" in enforced,
            cpu_share="cpu" in enforced,
        )

    def _enforced(self) -> frozenset[str]:
        with self._lock:
            if self._probe is not None:
                return self._probe
        leases = self._acquire()
        job_dir = tempfile.mkdtemp(prefix="probe-", dir=self._root)
        try:
            spec = self._spec(job_dir, leases, EvalJob("probe", "", {}), require=[])
            spec["mode"] = "probe"
            sock = self._server.submit(json.dumps(spec).encode())
            reply = ForkServer.read_reply(sock, 60.0, 1 << 16)
        finally:
            self._release(leases, clean=True)
            _rmtree(job_dir)
        enforced: frozenset[str] = frozenset()
        notes: list[str] = []
        try:
            found = json.loads(reply.data)
            enforced, notes = frozenset(found["enforced"]), [str(n) for n in found["notes"]]
            if self._cgroups is not None and self._cgroups.available:
                enforced |= {"cpu"}  # set up by this host process, per job (see _run)
            elif self._cgroups is not None:
                notes.append(self._cgroups.why_not)
        except (ValueError, KeyError, TypeError):
            log.warning("process sandbox: the isolation probe failed: %r", reply.data[-300:])
            notes = [f"the isolation probe failed: {reply.data[-300:]!r}"]
        with self._lock:
            first = self._probe is None
            self._probe = enforced
            self._probe_notes = notes
        if first and (missing := self.guarantees().missing()):
            log.warning("process sandbox: not enforced on this host: %s", "; ".join(missing))
        return enforced

    # -- running a job ----------------------------------------------------------------

    def run(self, job: EvalJob) -> EvalResult:
        """Score ``job``; never raises for anything the candidate or scorer does."""
        if self._closed:
            return error_result("the process sandbox is closed")
        try:
            return self._run(job)
        except Exception as exc:  # a sandbox bug must not take the worker down
            log.exception("process sandbox failed on %s", job.program_id)
            return error_result(f"the process sandbox failed: {type(exc).__name__}: {exc}")

    def _run(self, job: EvalJob) -> EvalResult:
        problem = unsafe_names(job.program_name, job.scorer, job.files)
        if problem is not None:
            return error_result(problem)
        program = job.program_name
        require = sorted(self._enforced() - {"tree"})
        leases = self._acquire()
        job_dir = tempfile.mkdtemp(prefix="job-", dir=self._root)
        clean = False
        cgroup = None
        try:
            if "cpu" in require and self._cgroups is not None:
                name = f"{os.path.basename(self._root)}-{next(self._jobs)}"
                cgroup = self._cgroups.create(name, job.limits.resources.cpus)
            _write_tree(
                Path(job_dir, "work"),
                {**job.files, program: job.code.encode("utf-8")},
                visible={*job.visible, program},
                owner=leases[0].uid if leases else None,
            )
            spec = self._spec(job_dir, leases, job, require)
            spec["cgroup"] = cgroup
            result, clean = self._supervise(job, spec)
            return result
        finally:
            if cgroup is not None and self._cgroups is not None:
                self._cgroups.remove(cgroup)
            self._release(leases, clean)
            _rmtree(job_dir)

    def _acquire(self) -> tuple[UidLease, UidLease] | None:
        """Two uids for a job (as root): the scorer's, and the candidate's, which
        cannot read the scorer-only files the first one owns."""
        if self._uids is None:
            return None
        scorer = self._uids.acquire()
        try:
            return scorer, self._uids.acquire()
        except BaseException:
            self._uids.release(scorer, clean=True)
            raise

    def _release(self, leases: tuple[UidLease, UidLease] | None, clean: bool) -> None:
        if leases is not None and self._uids is not None:
            for lease in leases:
                self._uids.release(lease, clean)

    def _spec(
        self,
        job_dir: str,
        leases: tuple[UidLease, UidLease] | None,
        job: EvalJob,
        require: list[str],
    ) -> dict[str, Any]:
        scratch = os.path.join(job_dir, "scratch")
        os.mkdir(scratch, 0o700)
        os.chmod(job_dir, 0o755)
        if leases is not None:  # the scorer's, shared with the candidate's group
            os.chown(scratch, leases[0].uid, leases[1].uid)
            os.chmod(scratch, 0o770)
        work = os.path.join(job_dir, "work")
        limits = job.limits
        return {
            "job_dir": job_dir,
            "scratch_dir": scratch,
            "visible": [self._lib],
            "sys_path": self._sys_path,
            "uid": leases[0].uid if leases else None,
            "candidate_uid": leases[1].uid if leases else None,
            "require": require,
            "limits": asdict(limits),
            "env": self._env(scratch, max(1, int(limits.resources.cpus)), limits.resources.gpus),
            "harness": job.harness_spec(work, limits.resources.memory_mb),
        }

    def _env(self, scratch: str, threads: int, gpus: int) -> dict[str, str]:
        """The whole environment a job sees: nothing of this process's leaks through."""
        env = {
            "PATH": f"{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": scratch,
            "PYTHONPATH": ":".join([self._lib, *self._packages]),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
        }
        for name in ("OMP", "OPENBLAS", "MKL", "NUMEXPR"):
            env[f"{name}_NUM_THREADS"] = str(threads)
        env["CUDA_VISIBLE_DEVICES"] = os.environ.get("CUDA_VISIBLE_DEVICES", "") if gpus else ""
        if not self._root_mode:
            env["TMPDIR"] = scratch  # no private /tmp here: keep leftovers in the job dir
        return env

    def _supervise(self, job: EvalJob, spec: dict[str, Any]) -> tuple[EvalResult, bool]:
        """Hand the job to a supervisor; wait with an outer deadline. (result, uid is clean)."""
        outer = job.limits.timeout_s * 1.5 + _GRACE_S
        sock = self._server.submit(json.dumps(spec).encode())
        announced: list[int] = []

        def track(pid: int) -> None:
            with self._lock:
                self._running.add(pid)
                announced.append(pid)

        try:
            reply = ForkServer.read_reply(sock, outer, contract.MAX_ENVELOPE_BYTES, track)
        finally:
            with self._lock:
                self._running.difference_update(announced)
        uids = [u for u in (spec["uid"], spec["candidate_uid"]) if u is not None]
        if reply.timed_out or reply.overflow:
            if reply.pid is not None:
                ForkServer.kill_job(reply.pid)
            clean = all([kill_uid_processes(u) for u in uids])
            if reply.overflow:
                return error_result("the sandbox supervisor sent an oversized reply"), clean
            reason = f"the sandbox supervisor did not finish within {outer:g} s and was killed"
            probes = Probes.limit_hit(f"time limit: the supervisor ran past {outer:g} s")
            result = EvalResult(Status.TIMEOUT, reason=reason, wall_time_s=outer, probes=probes)
            return result, clean
        if reply.pid is None or not reply.data:
            for u in uids:
                kill_uid_processes(u)
            log_tail = self._log_tail()
            return error_result(f"the sandbox supervisor died without a result; {log_tail}"), True
        return parse_envelope(reply.data), True

    def _log_tail(self) -> str:
        try:
            with open(os.path.join(self._root, "log"), "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - 300))
                return f.read().decode("utf-8", "replace").strip().splitlines()[-1]
        except (OSError, IndexError):
            return "no log"

    def close(self) -> None:
        """Stop the fork server, kill running jobs and remove this sandbox's files."""
        self._closed = True
        self._finalizer()


def _shutdown(server: ForkServer, root: str, running: set[int]) -> None:
    server.close()
    for pid in list(running):
        ForkServer.kill_job(pid)
    _rmtree(root)
