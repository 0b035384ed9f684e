"""Migration: an island's best natives are copied to its neighbours.

Copies, not moves, so the source keeps its best; the copy is the same program
(same index) flagged as a migrant on the target. A migrant never migrates on,
so one good program cannot sweep every island and erase their diversity, and
code already on a target is never copied twice. Migrants come from the head of
the island's rank order and are capped, so a migration costs O(max_migrants)
(plus the migrants ranked above them) however large the island grows.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from evolve.database.islands import Island

__all__ = ["choose_migrants", "migration_quota", "migration_targets", "ring_target"]


def ring_target(source: int, num_islands: int) -> int:
    """The island after ``source`` in the ring."""
    return (source + 1) % num_islands


def migration_targets(
    source: int, num_islands: int, topology: str, rng: np.random.Generator
) -> list[int]:
    """Islands that receive ``source``'s migrants ("random" consumes one draw)."""
    if num_islands < 2:
        return []
    if topology == "all":
        return [i for i in range(num_islands) if i != source]
    if topology == "random":
        offset = 1 + int(rng.integers(num_islands - 1))
        return [(source + offset) % num_islands]
    return [ring_target(source, num_islands)]


def migration_quota(island_size: int, fraction: float, cap: int) -> int:
    """Top programs to consider: ``fraction`` of the island, at least 1 if > 0, at most ``cap``."""
    if fraction <= 0 or island_size == 0:
        return 0
    return min(cap, max(1, math.floor(fraction * island_size)))


def choose_migrants(
    source: Island, target: Island, quota: int, norm_of: Callable[[int], int]
) -> list[int]:
    """Indices to copy from ``source`` to ``target``, best first.

    The top ``quota`` valid natives of ``source`` (migrants skipped, invalid
    programs never sent), minus those whose code ``target`` already holds.
    """
    chosen: list[int] = []
    considered = 0
    for rank, idx in enumerate(source.ranked_indices()):
        if considered == quota or rank >= source.num_valid:
            break
        if source.is_migrant(idx):
            continue
        considered += 1
        if target.holder_of(norm_of(idx)) is None:
            chosen.append(idx)
    return chosen
