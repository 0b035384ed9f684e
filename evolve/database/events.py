"""What ``PopulationDatabase.add`` did besides storing the program.

Small frozen records, returned rather than logged, so the controller can write
them to the run store (under their ``KIND``) and a notebook can replay how
islands changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from evolve.records import EventKind

__all__ = ["DuplicateCode", "Event", "Eviction", "IslandReset", "Migration"]


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


Event = Migration | Eviction | DuplicateCode | IslandReset
