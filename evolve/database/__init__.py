"""Population database: islands of programs, parent sampling, migration, checkpoints.

The controller needs only ``PopulationDatabase``, ``DatabaseConfig``, ``Sample``
and the event types; the policy modules are public for tests and new strategies.
"""

from evolve.database.config import DatabaseConfig, SelectionName
from evolve.database.database import (
    SNAPSHOT_FORMAT,
    EmptyDatabaseError,
    IslandSummary,
    PopulationDatabase,
    Sample,
)
from evolve.database.events import DuplicateCode, Event, Eviction, Migration

__all__ = [
    "SNAPSHOT_FORMAT",
    "DatabaseConfig",
    "DuplicateCode",
    "EmptyDatabaseError",
    "Event",
    "Eviction",
    "IslandSummary",
    "Migration",
    "PopulationDatabase",
    "Sample",
    "SelectionName",
]
