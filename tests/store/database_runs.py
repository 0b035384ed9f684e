"""A database and a run store driven together the way a run drives them, for the
incremental-checkpoint tests (a plain module: conftest is not for imports).

Deterministic: the same ``seed`` and calls give the same programs, samples,
events and files, so a run restored from its checkpoint can be compared with
one that was never interrupted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evolve.database import DatabaseConfig, FeatureDimension, PopulationDatabase
from evolve.records import Program, Status
from evolve.store import DatabaseCommit, RunStore

# Small islands, frequent random-topology migrations and resets: the journal
# then holds entries that drew from the generator, not only plain adds.
CONFIG = DatabaseConfig(
    num_islands=3,
    migration_interval=3,
    migration_topology="random",
    max_island_size=6,
    reset_interval=17,
    selection="mix",
    selection_mix={"uniform": 0.2, "rank": 0.4, "weighted": 0.4},
    num_inspirations=3,
    archive_inspirations=1,
    archive_size=5,
    feature_dimensions=(FeatureDimension("code_length"),),
)


def database_commit(db: PopulationDatabase) -> DatabaseCommit:
    """What ``RunRecorder.commit`` hands the store."""
    return DatabaseCommit(db.take_journal(), db.position(), len(db), db.snapshot)


def child(number: int, parent: Program, island: int) -> Program:
    fitness = None if number % 5 == 0 else float((number * 37) % 11)
    return Program(
        id=f"p{number:06d}",
        code=f"x = {number % 13}\n" + "y = 1\n" * (number % 4),
        parent_ids=(parent.id,),
        island=island,
        iteration=number,
        status=Status.OK if fitness is not None else Status.ERROR,
        fitness=fitness,
        score=fitness,
    )


class Writer:
    """A run's writer side: the store, a database reading programs back from it."""

    def __init__(self, store: RunStore, db: PopulationDatabase) -> None:
        self.store, self.db = store, db
        self.observed: list[Any] = []  # samples and events, in order

    @classmethod
    def create(cls, root: Path, problem: Path, seed: int = 7) -> Writer:
        store = RunStore.create(root, {"problem": "t"}, problem)
        writer = cls(store, PopulationDatabase(CONFIG, seed, program_lookup=store.get_program))
        first = Program(id="p000000", code="x = 0\n", status=Status.OK, fitness=0.0, score=0.0)
        writer.store.append_program(first)
        writer.db.add(first)
        writer.commit()
        return writer

    @classmethod
    def resume(cls, root: Path) -> Writer:
        """What ``evolve resume`` does: repair, then restore from the checkpoint."""
        store = RunStore.open(root, repair=True)
        checkpoint = store.load_checkpoint()
        assert checkpoint is not None
        db = PopulationDatabase.restore(
            CONFIG, checkpoint["database"], program_lookup=store.get_program
        )
        return cls(store, db)

    def step(self, number: int) -> None:
        """Sample a parent, add its child; every 11th step also migrates one island."""
        sample = self.db.sample()
        self.observed.append((sample.island, sample.parent.id, [p.id for p in sample.inspirations]))
        program = child(number, sample.parent, sample.island)
        self.store.append_program(program)
        self.observed.append(self.db.add(program))
        if number % 11 == 0:
            self.observed.append(self.db.migrate(number % CONFIG.num_islands))

    def grow(self, start: int, count: int, commit_every: int) -> None:
        for number in range(start, start + count):
            self.step(number)
            if (number - start) % commit_every == commit_every - 1:
                self.commit()

    def commit(self) -> None:
        self.store.commit({"controller": {"programs": len(self.db)}}, database_commit(self.db))
