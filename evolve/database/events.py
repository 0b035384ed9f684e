"""What ``PopulationDatabase.add`` did besides storing the program.

Small frozen records, returned rather than logged, so the controller can write
them to the run store (under their ``KIND``) and a notebook can replay how
islands changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from evolve.records import EventKind

__all__ = [
    "DuplicateCode",
    "Event",
    "Eviction",
    "IslandReseeded",
    "IslandReset",
    "IslandSpawned",
    "IslandStagnated",
    "Migration",
]


@dataclass(frozen=True)
class Migration:
    """``program_id`` was copied from ``source_island`` onto ``target_island``.

    ``at_generation`` is the source island's generation that triggered it.
    """

    KIND: ClassVar[EventKind] = EventKind.MIGRATION

    source_island: int
    target_island: int
    program_id: str
    at_generation: int


@dataclass(frozen=True)
class Eviction:
    """``program_id`` left ``island`` because the island outgrew ``max_island_size``.

    The program stays in the database (``get``, ``best``); only its island
    membership ends.
    """

    KIND: ClassVar[EventKind] = EventKind.EVICTION

    island: int
    program_id: str


@dataclass(frozen=True)
class DuplicateCode:
    """``program_id`` was not placed on ``island``: ``existing_id`` has the same code there.

    "Same" means equal up to comments and whitespace (``normalized_code_hash``).
    """

    KIND: ClassVar[EventKind] = EventKind.DUPLICATE_CODE

    island: int
    program_id: str
    existing_id: str


@dataclass(frozen=True)
class IslandReset:
    """``island`` was emptied (members and cells) and re-seeded with ``founder_id``.

    The founder is the best program of ``source_island``, a surviving island;
    on ``island`` it counts as a migrant. ``at_programs`` is the number of
    programs added when the reset happened.
    """

    KIND: ClassVar[EventKind] = EventKind.ISLAND_RESET

    island: int
    source_island: int
    founder_id: str
    at_programs: int


@dataclass(frozen=True)
class IslandStagnated:
    """None of ``island``'s last ``children`` children beat the best fitness it
    had held (``record``; None: it never held a valid program): the
    ``stagnation_window`` was reached. ``action`` is what followed: "reseed"
    (an ``IslandReseeded`` comes next), "spawn" (an ``IslandSpawned``) or
    "none" (the island holds the run's best, or no island is better and no
    island can be spawned). Its count of children starts again either way.
    """

    KIND: ClassVar[EventKind] = EventKind.ISLAND_STAGNATED

    island: int
    children: int
    record: float | None
    action: str
    at_programs: int


@dataclass(frozen=True)
class IslandReseeded:
    """Stagnant ``island`` was emptied and re-seeded with ``founder_id``, the best
    program of ``source_island``, an island whose best was strictly better.

    On ``island`` the founder counts as a migrant, as after an ``IslandReset``.
    """

    KIND: ClassVar[EventKind] = EventKind.ISLAND_RESEEDED

    island: int
    source_island: int
    founder_id: str
    at_programs: int


@dataclass(frozen=True)
class IslandSpawned:
    """A new island, number ``island``, was added because ``stagnant_island``
    stagnated; its one member is ``founder_id``, the run's best program (a migrant
    there). The stagnant island itself is left as it is."""

    KIND: ClassVar[EventKind] = EventKind.ISLAND_SPAWNED

    island: int
    stagnant_island: int
    founder_id: str
    at_programs: int


Event = (
    Migration
    | Eviction
    | DuplicateCode
    | IslandReset
    | IslandStagnated
    | IslandReseeded
    | IslandSpawned
)
