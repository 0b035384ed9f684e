"""Multi-objective selection: Pareto fronts and lexicographic order."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from evolve.database import DatabaseConfig, Objective, PopulationDatabase
from evolve.database.objectives import pareto_fronts
from tests.database.builders import make_program

ACCURACY_SPEED = (Objective("accuracy"), Objective("latency", "minimize"))


def _brute_force_fronts(values: np.ndarray) -> list[int]:
    remaining = set(range(len(values)))
    fronts = [0] * len(values)
    front = 0
    while remaining:
        layer = {
            i
            for i in remaining
            if not any(
                (values[j] >= values[i]).all() and (values[j] > values[i]).any() for j in remaining
            )
        }
        for i in layer:
            fronts[i] = front
        remaining -= layer
        front += 1
    return fronts


@given(
    arrays(np.float64, st.tuples(st.integers(0, 25), st.integers(1, 3)), elements=st.integers(0, 4))
)
def test_pareto_fronts_match_brute_force(values: np.ndarray) -> None:
    assert pareto_fronts(values).tolist() == _brute_force_fronts(values)


def _db(order: str, **overrides: object) -> PopulationDatabase:
    settings = {
        "num_islands": 1,
        "objectives": ACCURACY_SPEED,
        "objective_order": order,
        "max_island_size": 100,
        "migration_fraction": 0.0,
    }
    return PopulationDatabase(DatabaseConfig(**(settings | overrides)), seed=2)  # type: ignore[arg-type]


def _add(db: PopulationDatabase, pid: str, accuracy: float | None, latency: float | None) -> None:
    program = make_program(pid, 0.0, parents=() if pid == "seed" else ("seed",))
    metrics = {k: v for k, v in (("accuracy", accuracy), ("latency", latency)) if v is not None}
    program = replace(program, metrics=metrics)
    db.add(program)


def _population(db: PopulationDatabase) -> None:
    _add(db, "seed", 0.5, 5.0)
    _add(db, "accurate", 0.9, 9.0)  # front 0
    _add(db, "fast", 0.2, 1.0)  # front 0
    _add(db, "balanced", 0.6, 4.0)  # front 0
    _add(db, "dominated", 0.4, 6.0)  # dominated by seed and balanced: front 2
    _add(db, "no-latency", 0.99, None)  # cannot be compared: ranks with the failures


def test_lexicographic_order_compares_objectives_in_turn() -> None:
    db = _db("lexicographic")
    _population(db)
    assert db.island_member_ids(0) == [
        "accurate",
        "balanced",
        "seed",
        "dominated",
        "fast",
        "no-latency",
    ]


def test_pareto_order_ranks_by_front_then_lexicographically() -> None:
    db = _db("pareto")
    _population(db)
    assert db.island_member_ids(0) == [
        "accurate",
        "balanced",
        "fast",
        "seed",
        "dominated",
        "no-latency",
    ]


@pytest.mark.parametrize("selection", ["rank", "fitness", "weighted", "tournament"])
def test_pareto_selection_favours_the_first_front(selection: str) -> None:
    db = _db("pareto", selection=selection, exploration_ratio=0.0, num_inspirations=0)
    _population(db)
    counts = {"front0": 0, "other": 0}
    for _ in range(600):
        pid = db.sample(0).parent.id
        assert pid != "no-latency"  # valid programs exist, so no repair parents
        counts["front0" if pid in {"accurate", "fast", "balanced"} else "other"] += 1
    assert counts["front0"] > 2 * counts["other"]


def test_pareto_needs_a_bounded_island() -> None:
    with pytest.raises(ValueError, match="max_island_size must be set to at most 4096"):
        DatabaseConfig(objectives=ACCURACY_SPEED)
    with pytest.raises(ValueError, match="max_island_size must be set to at most 4096"):
        DatabaseConfig(objectives=ACCURACY_SPEED, max_island_size=5000)
    DatabaseConfig(objectives=ACCURACY_SPEED, objective_order="lexicographic")
    DatabaseConfig(objectives=(Objective("accuracy"),))  # one objective: no fronts


def test_pareto_island_evicts_from_its_last_front() -> None:
    db = _db("pareto", max_island_size=4)
    _add(db, "seed", 0.5, 5.0)
    _add(db, "accurate", 0.9, 9.0)
    _add(db, "fast", 0.2, 1.0)
    _add(db, "dominated", 0.4, 6.0)
    _add(db, "balanced", 0.6, 4.0)
    assert "dominated" not in db.island_member_ids(0)
    assert set(db.island_member_ids(0)) == {"seed", "accurate", "fast", "balanced"}
