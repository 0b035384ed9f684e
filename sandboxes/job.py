"""The messages between an executor and a sandbox: small frozen dataclasses.

A job carries everything a worker needs (the child's code, the problem's files,
the limits) and nothing else: workers never see the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from evaluators.contract import Status

__all__ = [
    "HOLDOUT_FUNCTION",
    "HOLDOUT_STAGES",
    "Entry",
    "EvalJob",
    "EvalResult",
    "Guarantees",
    "Limits",
    "Probes",
    "Resources",
    "Sandbox",
    "SandboxSetupError",
    "Stage",
    "Status",
]


@dataclass(frozen=True)
class Resources:
    """What one evaluation may use (its whole process tree): the ``[resources]``
    table of problem.toml, and what a sandbox enforces. One type for both, so
    no field is lost between the config and the container."""

    cpus: float = 1.0
    memory_mb: int = 1024
    gpus: int = 0
    max_processes: int = 64
    max_output_kb: int = 64  # stdout+stderr kept, each; the rest is dropped
    max_open_files: int = 256
    max_file_mb: int = 64  # largest file a candidate may write (RLIMIT_FSIZE, scratch tmpfs)

    def __post_init__(self) -> None:
        if self.cpus <= 0:
            raise ValueError(f"cpus must be > 0, got {self.cpus}")
        if self.memory_mb < 64:
            raise ValueError(f"memory_mb must be >= 64, got {self.memory_mb}")
        if self.gpus < 0:
            raise ValueError(f"gpus must be >= 0, got {self.gpus}")
        if self.max_processes < 1:
            raise ValueError(f"max_processes must be >= 1, got {self.max_processes}")
        for name in ("max_output_kb", "max_open_files", "max_file_mb"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    @property
    def max_output_bytes(self) -> int:
        return self.max_output_kb * 1024


@dataclass(frozen=True)
class Limits:
    """Bounds of one evaluation: its deadline and its resources."""

    timeout_s: float = 30.0
    resources: Resources = field(default_factory=Resources)

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")


@dataclass(frozen=True)
class Stage:
    """One cascade stage: call ``function`` in the scorer; go on only if the
    objective metric it returns reaches ``threshold`` (direction-aware)."""

    function: str
    threshold: float | None = None


# Which of the scorer's entry points a job calls: ``evaluate`` (its cascade
# stages, if any: the score evolution sees) or ``holdout`` (the held-out scorer,
# ``evaluate_holdout(program_path)``: data no prompt ever sees, one stage).
Entry = Literal["evaluate", "holdout"]
ObjectiveFallback = Literal["none", "mean"]
HOLDOUT_FUNCTION = "evaluate_holdout"
HOLDOUT_STAGES: tuple[Stage, ...] = (Stage(HOLDOUT_FUNCTION),)


@dataclass(frozen=True)
class EvalJob:
    """One candidate to score.

    ``files`` maps relative paths to contents: the scorer and any data it ships.
    Carrying bytes (not host paths) lets the job travel to any node.

    ``entry`` names the scorer entry point: ``"evaluate"`` runs ``stages`` (the
    normal ``evaluate``, or its cascade); ``"holdout"`` runs only
    ``evaluate_holdout`` (no cascade), whatever ``stages`` were passed, so every
    sandbox (they all hand ``stages`` to the same harness) calls it unchanged.
    """

    program_id: str
    code: str
    files: dict[str, bytes]
    scorer: str = "scorer.py"
    stages: tuple[Stage, ...] = (Stage("evaluate"),)
    objective: str = "score"
    maximize: bool = True
    program_name: str = "program.py"
    limits: Limits = field(default_factory=Limits)
    # Files of ``files`` the candidate may read; every other one is the scorer's
    # alone where the sandbox can separate them (see Guarantees.hidden_scorer_files).
    visible: tuple[str, ...] = ()
    entry: Entry = "evaluate"
    # When the scorer returns no ``objective``: "none" (invalid) or "mean"
    # (OpenEvolve's rule, applied by the harness; ``feature_metrics`` are
    # left out of that mean, as OpenEvolve leaves its feature dimensions out).
    objective_fallback: ObjectiveFallback = "none"
    feature_metrics: tuple[str, ...] = ()

    def harness_spec(self, work_dir: str, memory_mb: int) -> dict[str, Any]:
        """What the harness needs of this job, the same in every sandbox;
        ``work_dir``: where the sandbox put the problem's files and the program."""
        return {
            "work_dir": work_dir,
            "scorer": self.scorer,
            "program": f"{work_dir.rstrip('/')}/{self.program_name}",
            "stages": [[s.function, s.threshold] for s in self.stages],
            "objective": self.objective,
            "maximize": self.maximize,
            "fallback": self.objective_fallback,
            "features": list(self.feature_metrics),
            "memory_mb": memory_mb,
        }

    def __post_init__(self) -> None:
        if self.entry == "holdout":
            object.__setattr__(self, "stages", HOLDOUT_STAGES)
        elif self.entry != "evaluate":
            raise ValueError(f"entry must be 'evaluate' or 'holdout', got {self.entry!r}")
        elif any(stage.function == HOLDOUT_FUNCTION for stage in self.stages):
            raise ValueError(
                f"{HOLDOUT_FUNCTION} is the held-out scorer, never a stage of the score "
                "evolution sees; submit it with entry='holdout'"
            )


@dataclass(frozen=True)
class Probes:
    """What the candidate tried that its sandbox refused (evaluators._monitor):
    ``counts`` by kind (network, write, read, syscall, limit), a short ``log``
    of distinct lines, and the kinds this sandbox could see at all (``seen``: a
    kind it cannot see is unknown, not zero)."""

    counts: dict[str, int] = field(default_factory=dict)
    log: tuple[str, ...] = ()
    seen: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> dict[str, object]:
        return {"counts": dict(self.counts), "log": list(self.log), "seen": list(self.seen)}

    @staticmethod
    def limit_hit(line: str, report: Probes | None = None) -> Probes:
        """``report`` (or an empty one) with a limit the host saw the job hit
        (the container's OOM killer, a supervisor past its outer deadline)."""
        base = report if report is not None else Probes(seen=("limit",))
        counts = {**base.counts, "limit": base.counts.get("limit", 0) + 1}
        seen = base.seen if "limit" in base.seen else (*base.seen, "limit")
        return Probes(counts, (*base.log, f"limit: {line}"), seen)


@dataclass(frozen=True)
class EvalResult:
    """What came back. ``metrics`` are finite floats; ``artifacts`` short strings.
    ``probes`` is None where the sandbox monitored nothing."""

    status: Status
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    wall_time_s: float = 0.0
    peak_memory_mb: float = 0.0
    stage_reached: int = 0
    probes: Probes | None = None


class SandboxSetupError(RuntimeError):
    """A sandbox cannot start, or cannot give a protection it promises on this host
    (a missing Docker daemon or image; as root, an isolation step that fails).
    Raised before any job runs, never silently weakened; the message names what
    failed and the fix."""


@dataclass(frozen=True)
class Guarantees:
    """Which protections a job gets from a sandbox on this host (all are always
    attempted; a backend that cannot enforce one says so here, never silently)."""

    separate_uid: bool  # the candidate runs as a per-job unprivileged uid
    no_network: bool  # a private network namespace with no interface up
    private_filesystem: bool  # private /tmp, /var/tmp, /dev/shm; job files read-only
    process_limit: bool  # RLIMIT_NPROC bounds the job's own processes
    tree_kill: bool  # no process of the job survives it (subreaper + sweep)
    syscall_filter: bool  # seccomp denies keyrings, namespaces, ptrace, mounts, ... (Docker's list)
    hidden_scorer_files: bool  # call_candidate's child cannot read the scorer-only files
    private_processes: bool  # the job sees only its own processes (a PID namespace)
    cpu_share: bool  # the job's processes together get at most resources.cpus CPUs
    rlimits: bool = True  # address space, CPU time, file size, open files

    def missing(self) -> list[str]:
        """Human descriptions of what is not enforced here."""
        text = {
            "separate_uid": "the candidate runs as this user (no per-job uid; needs root)",
            "no_network": "the candidate can use the network (needs root for a network namespace)",
            "private_filesystem": "the candidate can write wherever this user can (needs root)",
            "process_limit": "the process limit counts all of this user's processes (needs root)",
            "tree_kill": "a process that escapes the job's tree may outlive it (no subreaper)",
            "syscall_filter": "the candidate can use keyrings, ptrace and namespaces "
            "(no seccomp filter on this kernel or architecture)",
            "hidden_scorer_files": "the candidate can read the problem's scorer-only files "
            "(no second uid for it; needs root)",
            "private_processes": "the candidate sees every process of the host, with its "
            "command line (no PID namespace; needs root)",
            "cpu_share": "resources.cpus is not enforced: a candidate's processes can take "
            "every CPU, starving other jobs and the controller (no CPU cgroup; needs root)",
        }
        return [line for name, line in text.items() if not getattr(self, name)]


class Sandbox(Protocol):
    """Runs one job to completion, always returning a result (never raising for
    anything the candidate or scorer did), and says what it enforces."""

    name: str

    def run(self, job: EvalJob) -> EvalResult: ...

    def guarantees(self) -> Guarantees:
        """The protections a job gets here (probed, not assumed)."""
        ...

    def close(self) -> None: ...
