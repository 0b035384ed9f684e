"""The messages between an executor and a sandbox: small frozen dataclasses.

A job carries everything a worker needs (the child's code, the problem's files,
the limits) and nothing else: workers never see the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from evaluators.contract import Status

__all__ = ["EvalJob", "EvalResult", "Limits", "Sandbox", "Stage", "Status"]


@dataclass(frozen=True)
class Limits:
    """Resource bounds for one evaluation (the whole process tree)."""

    timeout_s: float = 30.0
    memory_mb: int = 1024
    cpus: float = 1.0
    gpus: int = 0
    max_processes: int = 64
    max_open_files: int = 256
    max_file_mb: int = 64
    max_output_bytes: int = 64 * 1024  # stdout+stderr kept, each; the rest is dropped


@dataclass(frozen=True)
class Stage:
    """One cascade stage: call ``function`` in the scorer; go on only if the
    objective metric it returns reaches ``threshold`` (direction-aware)."""

    function: str
    threshold: float | None = None


@dataclass(frozen=True)
class EvalJob:
    """One candidate to score.

    ``files`` maps relative paths to contents: the scorer and any data it ships.
    Carrying bytes (not host paths) lets the job travel to any node.
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


@dataclass(frozen=True)
class EvalResult:
    """What came back. ``metrics`` are finite floats; ``artifacts`` short strings."""

    status: Status
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    wall_time_s: float = 0.0
    peak_memory_mb: float = 0.0
    stage_reached: int = 0


class Sandbox(Protocol):
    """Runs one job to completion, always returning a result (never raising for
    anything the candidate or scorer did)."""

    name: str

    def run(self, job: EvalJob) -> EvalResult: ...

    def close(self) -> None: ...
