"""A synthetic population for the controller benchmarks (``overhead.py``,
``simulated_cluster.py``): one-number programs, stored and placed on islands
as a run would, so sampling reads code back from a realistically sized store."""

from __future__ import annotations

import random

from evolve.database import PopulationDatabase
from evolve.records import Program, Status
from evolve.store import RunStore

SEED = "# EVOLVE-BLOCK-START\ndef value():\n    return 1.0\n# EVOLVE-BLOCK-END\n"


def code_for(value: float) -> str:
    """The seed returning ``value`` (what the benchmarks' executors score)."""
    return SEED.replace("return 1.0", f"return {value!r}")


def populate(store: RunStore, database: PopulationDatabase, n: int, islands: int) -> None:
    """``n`` programs with random scores and random earlier parents, committed
    every 256 as a run commits."""
    rng = random.Random(0)
    ids: list[str] = []
    for i in range(n):
        value = rng.random()
        parent = rng.choice(ids) if ids else None
        program = Program(
            id=f"s{i:07d}",
            code=code_for(value),
            parent_ids=(parent,) if parent else (),
            island=i % islands,
            generation=1 if parent else 0,
            iteration=i,
            status=Status.OK,
            metrics={"score": value},
            score=value,
            fitness=value,
        )
        store.append_program(program)
        database.add(program)
        ids.append(program.id)
        if i % 256 == 255:
            store.commit({})
