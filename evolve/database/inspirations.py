"""Inspirations: the programs shown to the mutator beside the parent.

Half elites (the island's best and the next best), so the mutator sees what
works; half drawn at random, so it also sees variety. Chosen from the same
pool as parents: the island's valid programs, or all of them when none is
valid (then the inspirations carry errors a repair can learn from).
"""

from __future__ import annotations

import numpy as np

from evolve.database.islands import Island

__all__ = ["choose_inspirations"]


def choose_inspirations(
    island: Island, parent_id: str, count: int, rng: np.random.Generator
) -> list[str]:
    """Up to ``count`` distinct member ids of ``island``, never ``parent_id``.

    Elites come first, best first, then the random others. Expected cost is
    O(count): elites are the head of the rank order, and random others are
    drawn by rejection, which only has to reject the few ids already taken.
    """
    if count <= 0:
        return []
    pool = island.num_valid or len(island)
    taken = {parent_id}
    chosen: list[str] = []
    num_elites = (count + 1) // 2
    for rank, pid in enumerate(island.ranked_ids()):
        if rank >= pool or len(chosen) == num_elites:
            break
        if pid not in taken:
            chosen.append(pid)
            taken.add(pid)
    # Pool members still free to draw. The valid programs are exactly the first
    # num_valid ranks, so a parent outside the pool takes nothing from it.
    parent_in_pool = parent_id in island and (pool == len(island) or island.is_valid(parent_id))
    available = pool - len(chosen) - int(parent_in_pool)
    wanted = count - len(chosen)
    if available <= wanted:
        for rank, pid in enumerate(island.ranked_ids()):
            if rank >= pool:
                break
            if pid not in taken:
                chosen.append(pid)
                taken.add(pid)
        return chosen
    while len(chosen) < count:
        pid = island.id_at(int(rng.integers(pool)))
        if pid not in taken:
            chosen.append(pid)
            taken.add(pid)
    return chosen
