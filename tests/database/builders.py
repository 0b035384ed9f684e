"""Builders shared by the database tests (a plain module: conftest is not for imports)."""

from __future__ import annotations

from evolve.records import Program, Status


def make_program(
    pid: str,
    fitness: float | None = None,
    *,
    code: str | None = None,
    parents: tuple[str, ...] = (),
    island: int = 0,
    status: Status | None = None,
) -> Program:
    """A program whose status agrees with its fitness (OK iff it has one)."""
    if status is None:
        status = Status.OK if fitness is not None else Status.ERROR
    return Program(
        id=pid,
        code=code if code is not None else f"name = {pid!r}\n",
        parent_ids=parents,
        island=island,
        status=status,
        fitness=fitness,
        score=fitness,
    )


def child_of(parent: Program, pid: str, fitness: float | None, island: int, **kw) -> Program:
    return make_program(pid, fitness, parents=(parent.id,), island=island, **kw)
