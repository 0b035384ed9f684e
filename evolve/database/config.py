"""Configuration of the population database: one typed, validated dataclass.

Validation lives here (not in the config loader) so that a database built in a
notebook or a test gets the same errors as one built from a run's config file;
the loader re-raises the ``ValueError`` with the file name in front.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = ["DatabaseConfig", "SelectionName"]

SelectionName = Literal["rank", "uniform", "tournament"]


@dataclass(frozen=True)
class DatabaseConfig:
    """How programs are kept on islands, chosen as parents and exchanged.

    Attributes:
        num_islands: independent sub-populations (>= 1); more islands keep more
            diverse lines of search alive at the cost of slower spread of good code.
        migration_interval: island generations between two migrations out of an
            island (>= 1); an island's generation is the number of children added
            to it (see ``PopulationDatabase``).
        migration_fraction: share of an island's size whose best natives are
            copied to the next island in the ring at a migration, in [0, 1];
            any value > 0 migrates at least one program, 0 turns migration off.
        selection: parent selection strategy: ``"rank"`` (power law over the
            island's fitness ranks), ``"tournament"`` (best of
            ``tournament_size`` uniform draws) or ``"uniform"``.
        rank_exponent: power-law exponent of ``"rank"`` selection (>= 0); 0 is
            uniform, larger values exploit the top ranks harder.
        tournament_size: draws per tournament of ``"tournament"`` selection (>= 1).
        exploration_ratio: probability, in [0, 1], that a parent is drawn
            uniformly from the island instead of by the selection strategy.
        num_inspirations: programs shown to the mutator beside the parent (>= 0).
        max_island_size: when set (>= 1), an island that grows past it evicts
            its weakest program; the island's best is never evicted.
    """

    num_islands: int = 4
    migration_interval: int = 10
    migration_fraction: float = 0.1
    selection: SelectionName = "rank"
    rank_exponent: float = 1.0
    tournament_size: int = 3
    exploration_ratio: float = 0.2
    num_inspirations: int = 3
    max_island_size: int | None = None

    def __post_init__(self) -> None:
        _at_least("num_islands", self.num_islands, 1)
        _at_least("migration_interval", self.migration_interval, 1)
        _unit_interval("migration_fraction", self.migration_fraction)
        choices = get_args(SelectionName)
        if self.selection not in choices:
            allowed = ", ".join(repr(c) for c in choices)
            raise ValueError(f"selection must be one of {allowed}, got {self.selection!r}")
        if not (math.isfinite(self.rank_exponent) and self.rank_exponent >= 0):
            raise ValueError(
                f"rank_exponent must be a finite number >= 0, got {self.rank_exponent!r}"
            )
        _at_least("tournament_size", self.tournament_size, 1)
        _unit_interval("exploration_ratio", self.exploration_ratio)
        _at_least("num_inspirations", self.num_inspirations, 0)
        if self.max_island_size is not None:
            _at_least("max_island_size", self.max_island_size, 1, "an integer >= 1 or unset")


def _at_least(name: str, value: object, low: int, allowed: str | None = None) -> None:
    """Raise unless ``value`` is an int (not a bool) >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be {allowed or f'an integer >= {low}'}, got {value!r}")


def _unit_interval(name: str, value: object) -> None:
    """Raise unless ``value`` is a real number in [0, 1] (NaN fails the comparison)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
