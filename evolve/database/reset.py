"""FunSearch's island reset: the weaker half of the islands starts over.

Islands stuck on a poor line of search waste samples. Periodically, the
islands whose best fitness ranks in the lower half are emptied and each is
re-seeded with the best program of a randomly chosen surviving island. The
strongest island always survives, so the best program is never lost.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["plan_reset"]


def plan_reset(
    best_fitness: Sequence[float | None], sizes: Sequence[int], rng: np.random.Generator
) -> list[tuple[int, int]]:
    """(island to reset, surviving island to copy its best from) pairs.

    ``best_fitness`` holds each island's best fitness (None: no valid member,
    which ranks weakest). Ties are broken at random, so equal islands take
    turns. Islands with no member at all never act as a source.
    """
    n = len(best_fitness)
    if n < 2:
        return []
    values = np.array([-math.inf if f is None else f for f in best_fitness], dtype=np.float64)
    order = np.lexsort((rng.random(n), values))  # weakest first; random among ties
    weak = [int(i) for i in order[: n // 2]]
    survivors = [int(i) for i in order[n // 2 :] if sizes[i] > 0]
    if not survivors:
        return []
    return [(island, survivors[int(rng.integers(len(survivors)))]) for island in sorted(weak)]
