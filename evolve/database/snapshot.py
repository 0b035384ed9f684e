"""Checkpoints of the population database: ``dump`` and ``load``.

The checkpoint half of ``PopulationDatabase``, kept apart so the facade stays
small: it is handed the database's parts (table, islands, archive, generator,
counters) and gives back the parts a restore wires together, so it never needs
the facade's class. A snapshot is plain
JSON and self-contained: program ids once, then every per-program column and
every island, cell and archive as base64 int32/float64 arrays of program
indices (about 60 bytes per program), the generator state and the counters.
Restoring needs only the config and, for the full programs, either a mapping
of them or a lookup into the run store.

Format 2::

    {"format": 2, "num_islands": 4, "spawned": 0, "features": [...],
     "objectives": [...], "rng": {...}, "cursor": 1, "best": 17 | null,
     "programs": {"ids": [...], "fitness": ARRAY, "rank_class": ARRAY,
                  "objectives": ARRAY, "coords": ARRAY, "children": ARRAY,
                  "code": ARRAY, "norm": ARRAY},
     "islands": [{"generation": 12, "record": 0.5 | null, "stale": 3,
                  "members": ARRAY, "migrants": ARRAY, "cells": ARRAY}, ...],
     "archive": ARRAY}

where ARRAY is ``{"dtype", "shape", "data"}`` (see ``arrays``); members are in
rank order and cells list their elites in the order the cells were filled.
``num_islands`` counts every island, ``spawned`` those a stagnant island added
(the config's ``num_islands`` is the difference). ``spawned``, ``record``
(null: the island never held a valid program) and ``stale`` are written only
with stagnation on (``stagnation_window`` > 0), so a run without it writes
the very snapshot it did before stagnation existed. A snapshot without them
reads as no island spawned, each record the best fitness among the island's
valid members and no stagnation counted: older runs, and runs that turn
stagnation on at a resume, still resume.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evolve.database.archive import Archive
from evolve.database.arrays import decode_array, encode_array
from evolve.database.config import DatabaseConfig
from evolve.database.islands import Island
from evolve.database.stagnation import NO_RECORD
from evolve.database.table import ProgramTable
from evolve.records import Program

__all__ = ["SNAPSHOT_FORMAT", "Saved", "dump", "load", "restore_places"]

SNAPSHOT_FORMAT = 2


def _indices(values: list[int]) -> dict[str, Any]:
    return encode_array(np.asarray(values, dtype=np.int32))


@dataclass(frozen=True)
class Saved:
    """The parts a snapshot restores: the program table and generator to wire a
    database around, its counters, and where every program sat."""

    table: ProgramTable
    rng: np.random.Generator
    cursor: int
    best: int | None
    islands: Sequence[Mapping[str, Any]]
    archive: list[int]


def dump(
    config: DatabaseConfig,
    table: ProgramTable,
    islands: Sequence[Island],
    archive: Archive,
    rng: np.random.Generator,
    cursor: int,
    best: int | None,
) -> dict[str, Any]:
    """The database's state as plain JSON values. O(programs + memberships)."""
    state: dict[str, Any] = {
        "format": SNAPSHOT_FORMAT,
        "num_islands": len(islands),
        "features": [d.name for d in config.dimensions],
        "objectives": [o.metric for o in config.objectives],
        "rng": rng.bit_generator.state,
        "cursor": cursor,
        "best": best,
        "programs": table.to_state(),
        "islands": [
            {
                "generation": island.generation,
                "members": _indices(island.member_list()),
                "migrants": _indices(sorted(island.migrant_set())),
                "cells": _indices(list(island.cells().values())),
            }
            for island in islands
        ],
        "archive": _indices(archive.members()),
    }
    if config.stagnation_window:
        state["spawned"] = len(islands) - config.num_islands
        for place, island in zip(state["islands"], islands, strict=True):
            # -inf is not JSON: null stands for "never held a valid program".
            place["record"] = None if island.record == NO_RECORD else island.record
            place["stale"] = island.stale
    return state


def load(
    config: DatabaseConfig,
    state: Mapping[str, Any],
    programs: Mapping[str, Program] | None,
    program_lookup: Callable[[str], Program] | None,
) -> Saved:
    """Check ``state`` against ``config`` and decode it (see ``PopulationDatabase.restore``)."""
    _check_compatible(config, state)
    if (programs is None) == (program_lookup is None):
        raise ValueError("restore needs exactly one of programs (id -> Program) or program_lookup")
    table = ProgramTable.from_state(
        state["programs"], len(config.objectives), len(config.dimensions), programs, program_lookup
    )
    rng = np.random.default_rng()
    rng.bit_generator.state = dict(state["rng"])
    return Saved(
        table=table,
        rng=rng,
        cursor=int(state["cursor"]),
        best=None if state["best"] is None else int(state["best"]),
        islands=state["islands"],
        archive=decode_array(state["archive"]).tolist(),
    )


def restore_places(saved: Saved, islands: Sequence[Island], archive: Archive) -> None:
    """Put every program back where it sat: island members, migrants, cells, archive."""
    table = saved.table
    for island, place in zip(islands, saved.islands, strict=True):
        members = decode_array(place["members"]).tolist()
        valid = int((table.rank_class[members] == 0).sum()) if members else 0
        migrants = decode_array(place["migrants"]).tolist()
        island.load_members(members, migrants, table.norm_key, valid)
        island.restore_cells(decode_array(place["cells"]).tolist(), table.cell)
        island.generation = int(place["generation"])
        island.record = _record(place, members, table)
        island.stale = int(place.get("stale", 0))
    archive.load(saved.archive)


def _record(place: Mapping[str, Any], members: list[int], table: ProgramTable) -> float:
    """The island's saved record; for a snapshot written before stagnation, the best
    fitness among its valid members (the record can only have been at least that)."""
    if "record" in place:
        return NO_RECORD if place["record"] is None else float(place["record"])
    fitness = [float(table.fitness[i]) for i in members if table.rank_class[i] == 0]
    return max(fitness, default=NO_RECORD)


def _check_compatible(config: DatabaseConfig, state: Mapping[str, Any]) -> None:
    if state.get("format") != SNAPSHOT_FORMAT:
        raise ValueError(
            f"database snapshot format {state.get('format')!r} is not supported "
            f"(this version reads format {SNAPSHOT_FORMAT})"
        )
    total = int(state["num_islands"])
    spawned = int(state.get("spawned", 0))
    if total - spawned != config.num_islands:
        extra = f" (plus {spawned} spawned at stagnation)" if spawned else ""
        raise ValueError(
            f"the snapshot has {total - spawned} islands{extra} but the config asks for "
            f"{config.num_islands}; resume with num_islands = {total - spawned}"
        )
    if total > config.island_cap:
        raise ValueError(
            f"the snapshot has {total} islands, {spawned} of them spawned at stagnation, "
            f"but the config allows at most {config.island_cap}; resume with "
            f"stagnation_window > 0, stagnation_action = 'spawn' and max_islands >= {total}"
        )
    names = [d.name for d in config.dimensions]
    if state["features"] != names:
        raise ValueError(
            f"the snapshot's feature_dimensions are {state['features']} but the config's are "
            f"{names}; resume with the feature_dimensions the run started with"
        )
    metrics = [o.metric for o in config.objectives]
    if state["objectives"] != metrics:
        raise ValueError(
            f"the snapshot's objectives are {state['objectives']} but the config's are "
            f"{metrics}; resume with the objectives the run started with"
        )
