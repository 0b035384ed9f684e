"""What the database hands out: samples, island summaries, and its one error."""

from __future__ import annotations

from dataclasses import dataclass

from evolve.records import Program

__all__ = ["EmptyDatabaseError", "IslandSummary", "Sample"]


class EmptyDatabaseError(LookupError):
    """``sample`` was called before any program was added."""


@dataclass(frozen=True)
class Sample:
    """A parent from ``island``'s population and its inspirations.

    The child proposed from this sample belongs to ``island``: set
    ``child.island = sample.island`` (not ``parent.island``, which differs when
    the parent is a migrant). Inspirations come from the island's population
    and cells, and, when configured, from the cross-island archive.
    """

    island: int
    parent: Program
    inspirations: tuple[Program, ...]


@dataclass(frozen=True)
class IslandSummary:
    island: int
    size: int
    num_valid: int
    num_migrants: int
    generation: int
    best_id: str | None
    best_fitness: float | None
    num_cells: int = 0
