"""What ``PopulationDatabase.add`` did besides storing the program.

Small frozen records, returned rather than logged, so the controller can write
them to the run store and a notebook can replay how islands changed.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DuplicateCode", "Event", "Eviction", "Migration"]


@dataclass(frozen=True)
class Migration:
    """``program_id`` was copied from ``source_island`` onto ``target_island``.

    ``at_generation`` is the source island's generation that triggered it.
    """

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

    island: int
    program_id: str


@dataclass(frozen=True)
class DuplicateCode:
    """``program_id`` was not placed on ``island``: ``existing_id`` has the same code there."""

    island: int
    program_id: str
    existing_id: str


Event = Migration | Eviction | DuplicateCode
