"""Bad input gets a clear error or a defined behaviour, never a silent surprise."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from evolve.database import DatabaseConfig, FeatureDimension, PopulationDatabase
from evolve.database.binning import UNKNOWN_CELL
from evolve.records import Status
from tests.database.builders import child_of, make_program


def test_zero_islands_and_out_of_range_migration_rates_are_config_errors() -> None:
    with pytest.raises(ValueError, match=r"num_islands must be an integer >= 1, got 0"):
        DatabaseConfig(num_islands=0)
    for rate in (-0.01, 1.01, math.nan):
        with pytest.raises(ValueError, match=r"migration_fraction must be a number in \[0, 1\]"):
            DatabaseConfig(migration_fraction=rate)


def test_nan_and_missing_feature_metrics_fall_in_the_unknown_cell() -> None:
    dims = (FeatureDimension("speed", min=0.0, max=1.0, bins=4), FeatureDimension("ast_nodes"))
    db = PopulationDatabase(DatabaseConfig(num_islands=1, feature_dimensions=dims), seed=0)
    seed = make_program("seed", 1.0, code="x = 1\n")
    seed = replace(seed, metrics={"speed": 0.3})
    db.add(seed)
    nan = child_of(seed, "nan", 2.0, island=0, code="x = 2\n")
    nan = replace(nan, metrics={"speed": math.nan})
    db.add(nan)
    broken = child_of(seed, "broken", 3.0, island=0, code="def (:\n")
    broken = replace(broken, metrics={})
    db.add(broken)
    assert db.cell_of("seed")[0] == 1
    assert db.cell_of("nan")[0] == UNKNOWN_CELL
    assert db.cell_of("broken") == (UNKNOWN_CELL, UNKNOWN_CELL)  # no metric, no syntax tree
    assert db.cell_elites(0)[db.cell_of("broken")] == "broken"


def test_nan_metrics_that_select_nothing_are_ignored() -> None:
    db = PopulationDatabase(DatabaseConfig(num_islands=1), seed=0)
    seed = make_program("seed", 1.0)
    seed = replace(seed, metrics={"score": 1.0, "noise": math.nan})
    db.add(seed)
    assert db.sample().parent.id == "seed"


def test_an_island_of_failures_proposes_repairs_even_when_others_are_valid() -> None:
    db = PopulationDatabase(DatabaseConfig(num_islands=2, migration_fraction=0.0), seed=0)
    seed = make_program("seed", None, status=Status.ERROR)
    db.add(seed)
    db.add(child_of(seed, "ok", 1.0, island=1))
    db.add(child_of(seed, "slow", None, island=0, status=Status.TIMEOUT))
    assert db.sample(1).parent.id == "ok"
    for _ in range(10):
        assert db.sample(0).parent.id in {"seed", "slow"}


def test_unknown_parent_ids_are_accepted_without_a_child_count() -> None:
    db = PopulationDatabase(DatabaseConfig(num_islands=1), seed=0)
    db.add(make_program("seed", 0.0))
    db.add(make_program("orphan", 1.0, parents=("gone",)))
    assert db.children_count("seed") == 0 and db.get("orphan").parent_ids == ("gone",)
    with pytest.raises(KeyError, match="gone"):
        db.children_count("gone")
