"""Population database: islands of MAP-Elites cells, an archive, parent sampling,
migration, resets, island stagnation (re-seed or spawn) and checkpoints (full
snapshots, and a journal of the changes since one that makes a checkpoint
incremental).

The controller needs only ``PopulationDatabase``, ``DatabaseConfig``, ``Sample``
and the event types; the policy modules are public for tests and new strategies.
"""

from evolve.database.codehash import normalized_code_hash
from evolve.database.config import (
    DatabaseConfig,
    FeatureDimension,
    Objective,
    SelectionName,
    StagnationAction,
)
from evolve.database.database import PopulationDatabase
from evolve.database.events import (
    DuplicateCode,
    Event,
    Eviction,
    IslandReseeded,
    IslandReset,
    IslandSpawned,
    IslandStagnated,
    Migration,
)
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
    "IslandReseeded",
    "IslandReset",
    "IslandSpawned",
    "IslandStagnated",
    "IslandSummary",
    "Migration",
    "Objective",
    "PopulationDatabase",
    "Sample",
    "SelectionName",
    "StagnationAction",
    "normalized_code_hash",
]
