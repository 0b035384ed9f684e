"""Population database: islands of MAP-Elites cells, an archive, parent sampling,
migration, resets and checkpoints (full snapshots, and a journal of the changes since
one that makes a checkpoint incremental).

The controller needs only ``PopulationDatabase``, ``DatabaseConfig``, ``Sample``
and the event types; the policy modules are public for tests and new strategies.
"""

from evolve.database.codehash import normalized_code_hash
from evolve.database.config import (
    DatabaseConfig,
    FeatureDimension,
    Objective,
    SelectionName,
)
from evolve.database.database import PopulationDatabase
from evolve.database.events import DuplicateCode, Event, Eviction, IslandReset, Migration
from evolve.database.samples import EmptyDatabaseError, IslandSummary, Sample
from evolve.database.snapshot import SNAPSHOT_FORMAT

__all__ = [
    "SNAPSHOT_FORMAT",
    "DatabaseConfig",
    "DuplicateCode",
    "EmptyDatabaseError",
    "Event",
    "Eviction",
    "FeatureDimension",
    "IslandReset",
    "IslandSummary",
    "Migration",
    "Objective",
    "PopulationDatabase",
    "Sample",
    "SelectionName",
    "normalized_code_hash",
]
