"""Ring migration: an island's best natives are copied to the next island.

Copies, not moves, so the source keeps its best; the copy is the same program
(same id) flagged as a migrant on the target. A migrant never migrates on, so
one good program cannot sweep the whole ring and erase the islands' diversity,
and code already on the target is never copied twice.
"""

from __future__ import annotations

import math

from evolve.database.islands import Island

__all__ = ["choose_migrants", "migration_quota", "ring_target"]


def ring_target(source: int, num_islands: int) -> int:
    """The island that receives ``source``'s migrants."""
    return (source + 1) % num_islands


def migration_quota(island_size: int, fraction: float) -> int:
    """How many top programs to consider: ``fraction`` of the island, at least 1 if > 0."""
    if fraction <= 0 or island_size == 0:
        return 0
    return max(1, math.floor(fraction * island_size))


def choose_migrants(source: Island, target: Island, fraction: float) -> list[str]:
    """Ids to copy from ``source`` to ``target``, best first.

    The top ``migration_quota`` valid natives of ``source`` (migrants skipped,
    invalid programs never sent), minus those whose code ``target`` already
    holds. O(quota + migrants ranked above them).
    """
    quota = migration_quota(len(source), fraction)
    chosen: list[str] = []
    considered = 0
    for rank, pid in enumerate(source.ranked_ids()):
        if considered == quota or rank >= source.num_valid:
            break
        if source.is_migrant(pid):
            continue
        considered += 1
        if target.holder_of(source.code_hash_of(pid)) is None:
            chosen.append(pid)
    return chosen
