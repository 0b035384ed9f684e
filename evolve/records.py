"""Core records of a run: small dataclasses that every layer agrees on."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from evaluators.contract import Status

__all__ = ["Program", "Status", "code_hash"]


def code_hash(code: str) -> str:
    """Content hash of a program's exact text (the key of the code table)."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()[:32]


@dataclass
class Program:
    """One candidate program and what its evaluation said about it.

    ``score`` is the raw value of the problem's objective metric; ``fitness`` is
    the same value oriented so that higher is always better (``-score`` for a
    minimised objective) and is ``None`` for any status other than OK.
    """

    id: str
    code: str
    parent_ids: tuple[str, ...] = ()
    island: int = 0
    generation: int = 0
    iteration: int = 0
    created_at: float = 0.0
    status: Status = Status.OK
    metrics: dict[str, float] = field(default_factory=dict)
    score: float | None = None
    fitness: float | None = None
    artifacts: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    edit_kind: str = "seed"
    model: str = ""
    llm_call_id: str | None = None
    wall_time_s: float = 0.0
    duplicate_of: str | None = None
    code_hash: str = ""

    def __post_init__(self) -> None:
        if not self.code_hash:
            self.code_hash = code_hash(self.code)
