"""Inspirations: the programs shown to the mutator beside the parent.

Three kinds, in this order: the island's top programs (best first), so the
mutator sees what works; programs from the cross-island archive, so good ideas
travel without waiting for a migration; and diverse programs, elites of other
MAP-Elites cells of the island (then random members), so it also sees
variety. Each kind is drawn in O(count) expected time, whatever the size of the
island, the grid or the archive.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from evolve.database.archive import Archive
from evolve.database.islands import Cell, Island

__all__ = ["choose_inspirations", "draw_distinct"]


def choose_inspirations(
    island: Island,
    parent: int,
    parent_cell: Cell,
    archive: Archive,
    norm_of: Callable[[int], int],
    counts: tuple[int, int, int],
    rng: np.random.Generator,
) -> list[int]:
    """Up to ``sum(counts)`` distinct program indices, never ``parent``.

    ``counts`` is (top, archive, diverse). Top programs and random members come
    from the island's pool (its valid members when it has any); a kind that
    runs short leaves its share to the random members.
    """
    num_top, num_archive, num_diverse = counts
    taken = {parent}
    chosen: list[int] = []
    for idx in island.top(num_top + 1).tolist():
        if len(chosen) == num_top:
            break
        if idx not in taken:
            chosen.append(idx)
            taken.add(idx)

    def from_archive(position: int) -> int | None:
        idx = archive.member_at(position)  # only code the island does not hold yet
        return None if island.holder_of(norm_of(idx)) is not None else idx

    chosen += draw_distinct(len(archive), from_archive, num_archive, taken, rng)

    def from_cells(position: int) -> int | None:
        cell = island.cell_at(position)
        return None if cell == parent_cell else island.elite_of(cell)

    wanted = num_top + num_archive + num_diverse - len(chosen)
    chosen += draw_distinct(island.num_cells, from_cells, min(num_diverse, wanted), taken, rng)
    wanted = num_top + num_archive + num_diverse - len(chosen)
    chosen += draw_distinct(island.pool_size, island.idx_at, wanted, taken, rng)
    return chosen


def draw_distinct(
    num_items: int,
    item_at: Callable[[int], int | None],
    wanted: int,
    taken: set[int],
    rng: np.random.Generator,
) -> list[int]:
    """Up to ``wanted`` items not in ``taken`` (which grows), drawn uniformly.

    ``item_at`` may return None for a position that does not qualify. Small
    collections are scanned in order; large ones are sampled with a bounded
    number of rejections, so the cost is O(wanted) either way.
    """
    out: list[int] = []
    if wanted <= 0 or num_items == 0:
        return out
    if num_items <= wanted + len(taken) + 8:
        for position in range(num_items):
            if len(out) == wanted:
                break
            idx = item_at(position)
            if idx is not None and idx not in taken:
                out.append(idx)
                taken.add(idx)
        return out
    for _ in range(8 * wanted + 16):
        if len(out) == wanted:
            break
        idx = item_at(int(rng.integers(num_items)))
        if idx is not None and idx not in taken:
            out.append(idx)
            taken.add(idx)
    return out
