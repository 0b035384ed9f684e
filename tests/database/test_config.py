from __future__ import annotations

import math

import pytest

from evolve.database import DatabaseConfig
from evolve.strict import ConfigError, from_mapping


def test_defaults_are_valid() -> None:
    config = DatabaseConfig()
    assert config.num_islands == 4
    assert config.migration_interval == 10
    assert config.migration_fraction == 0.1
    assert config.num_inspirations == 3
    assert config.max_island_size is None


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("num_islands", 0, ">= 1"),
        ("num_islands", True, ">= 1"),
        ("migration_interval", 0, ">= 1"),
        ("migration_fraction", -0.1, "[0, 1]"),
        ("migration_fraction", 1.5, "[0, 1]"),
        ("migration_fraction", math.nan, "[0, 1]"),
        ("selection", "softmax", "'rank'"),
        ("rank_exponent", -1.0, ">= 0"),
        ("rank_exponent", math.inf, ">= 0"),
        ("tournament_size", 0, ">= 1"),
        ("exploration_ratio", 2.0, "[0, 1]"),
        ("num_inspirations", -1, ">= 0"),
        ("max_island_size", 0, ">= 1"),
    ],
)
def test_invalid_value_raises_naming_field_and_range(field: str, value: object, allowed: str):
    with pytest.raises(ValueError) as info:
        DatabaseConfig(**{field: value})
    message = str(info.value)
    assert message.startswith(field)
    assert allowed in message
    assert repr(value) in message


def test_boundary_values_are_accepted() -> None:
    DatabaseConfig(
        num_islands=1,
        migration_interval=1,
        migration_fraction=0.0,
        exploration_ratio=1.0,
        rank_exponent=0.0,
        num_inspirations=0,
        max_island_size=1,
        selection="tournament",
        tournament_size=1,
    )


def test_config_loader_prefixes_the_file_name() -> None:
    with pytest.raises(ConfigError, match=r"run\.toml.*num_islands must be an integer >= 1"):
        from_mapping(DatabaseConfig, {"num_islands": 0}, "run.toml")
    loaded = from_mapping(DatabaseConfig, {"max_island_size": 50, "selection": "uniform"}, "x")
    assert loaded == DatabaseConfig(max_island_size=50, selection="uniform")
