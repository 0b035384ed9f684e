"""Island stagnation: what to do with an island whose children stopped improving it.

FunSearch's periodic reset (``reset``) empties the weaker half of the islands
on a clock, whether they are stuck or not. This is the per-island version: an
island counts its children since one of them last beat the best fitness the
island has held (its *record*), and once ``stagnation_window`` children in a
row have not, the island is stagnant and one of two things happens:

* "reseed": the island starts over from the best program of a random island
  whose best is strictly better. An island that holds the run's best program,
  or that no island beats, is left alone: re-seeding it could only lose the
  best or copy something no better, so the global best is never lost.
* "spawn": a new island is added, founded by the run's best program, so the
  search around the best gets a fresh population while the stagnant island
  goes on (ShinkaEvolve's dynamic islands). Past ``max_islands`` the island
  is reseeded instead, so stagnation keeps being answered.

The functions here decide; ``Archipelago.stagnate`` applies the decision. They
take plain values (fitness records, sizes) so they can be tested alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["Response", "improves", "respond"]

NO_RECORD = -math.inf  # the record of an island that never held a valid program


def improves(record: float, fitness: float | None) -> bool:
    """Whether a child of this fitness (None: not valid) beats the island's record."""
    return fitness is not None and fitness > record


@dataclass(frozen=True)
class Response:
    """What a stagnant island gets: "reseed" from ``source``, "spawn", or "none"."""

    action: Literal["reseed", "spawn", "none"]
    source: int | None = None


def respond(
    island: int,
    best_fitness: Sequence[float | None],
    sizes: Sequence[int],
    holds_best: bool,
    can_spawn: bool,
    rng: np.random.Generator,
) -> Response:
    """The response to ``island``'s stagnation.

    ``best_fitness``: each island's best fitness (None: no valid member);
    ``holds_best``: whether ``island`` holds the run's best program;
    ``can_spawn``: "spawn" is configured, there is a valid best to found a new
    island with, and the island cap is not reached. Draws from ``rng`` only to
    choose among several better islands, so a decision is replayable.
    """
    if can_spawn:
        return Response("spawn")
    if holds_best:
        return Response("none")
    own = _value(best_fitness[island])
    better = [
        i
        for i, fitness in enumerate(best_fitness)
        if i != island and sizes[i] > 0 and _value(fitness) > own
    ]
    if not better:
        return Response("none")
    pick = better[0] if len(better) == 1 else better[int(rng.integers(len(better)))]
    return Response("reseed", pick)


def _value(fitness: float | None) -> float:
    return NO_RECORD if fitness is None else fitness
