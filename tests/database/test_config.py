from __future__ import annotations

import math
import tomllib

import pytest

from evolve.config.strict import from_mapping
from evolve.database import DatabaseConfig, FeatureDimension, Objective
from evolve.errors import ConfigError


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
        ("max_migrants", 0, ">= 1"),
        ("migration_topology", "star", "'ring'"),
        ("reset_interval", -1, ">= 0"),
        ("softmax_temperature", 0.0, "> 0"),
        ("softmax_temperature", math.nan, "> 0"),
        ("weighted_lambda", -1.0, ">= 0"),
        ("selection_window", 0, ">= 1"),
        ("archive_inspirations", -1, ">= 0"),
        ("top_inspirations", -1, ">= 0"),
        ("archive_size", -1, ">= 0"),
        ("archive_policy", "random", "'crowding'"),
        ("objective_order", "weighted", "'pareto'"),
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


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"selection": "mix"}, "selection_mix must name shares"),
        ({"selection": "mix", "selection_mix": {"greedy": 1.0}}, "keys must be among"),
        ({"selection": "mix", "selection_mix": {"rank": -1.0}}, "selection_mix.rank must be"),
        ({"selection": "mix", "selection_mix": {"rank": 0.0}}, "must sum to > 0"),
        ({"selection_mix": {"rank": 1.0}}, "only read when selection = 'mix'"),
        ({"num_inspirations": 2, "top_inspirations": 2, "archive_inspirations": 1}, "<= num_"),
        ({"feature_dimensions": (FeatureDimension("a"),) * 2}, "must not repeat a name"),
        ({"feature_dimensions": ("speed",)}, "must hold FeatureDimension tables"),
        ({"objectives": (Objective("a"), Objective("a"))}, "must not repeat a metric"),
    ],
)
def test_inconsistent_settings_raise(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DatabaseConfig(**overrides)


def test_a_dimension_given_by_name_gets_the_default_binning() -> None:
    assert FeatureDimension("code_length") == FeatureDimension(
        "code_length", width=0.25, scale="log"
    )
    assert FeatureDimension("ast_depth") == FeatureDimension("ast_depth", width=1.0, scale="linear")
    assert FeatureDimension("x", width=0.25).scale == "linear"  # explicit bins stay linear
    assert FeatureDimension("x", scale="linear").width == 1.0


def test_the_loader_reads_nested_tables_and_lists() -> None:
    data = {
        "selection": "mix",
        "selection_mix": {"uniform": 0.2, "rank": 0.5, "weighted": 0.3},
        "feature_dimensions": [
            {"name": "ast_nodes"},
            {"name": "mean_gap", "min": 0, "max": 2, "bins": 8},
            {"name": "score", "width": 0.5, "scale": "log"},
        ],
        "objectives": [{"metric": "score"}, {"metric": "time", "direction": "minimize"}],
        "objective_order": "lexicographic",
        "migration_topology": "all",
        "reset_interval": 200,
    }
    config = from_mapping(DatabaseConfig, data, "problem.toml")
    assert [d.name for d in config.dimensions] == ["ast_nodes", "mean_gap", "score"]
    assert config.dimensions[1] == FeatureDimension("mean_gap", min=0.0, max=2.0, bins=8)
    assert config.objectives[1] == Objective("time", "minimize")
    assert config.selection_mix == {"uniform": 0.2, "rank": 0.5, "weighted": 0.3}


def test_loader_errors_name_the_file_and_the_nested_key() -> None:
    with pytest.raises(
        ConfigError,
        match=r"problem\.toml: \[feature_dimensions\[0\]\] bins must be an integer >= 1",
    ):
        from_mapping(
            DatabaseConfig,
            {"feature_dimensions": [{"name": "x", "min": 0, "max": 1, "bins": 0}]},
            "problem.toml",
        )
    with pytest.raises(ConfigError, match=r"unknown key 'feature_dimensions\[0\]\.nam'"):
        from_mapping(DatabaseConfig, {"feature_dimensions": [{"nam": "x"}]}, "problem.toml")


EXAMPLE_TOML = """
[database]
num_islands = 5
migration_interval = 10
migration_fraction = 0.1
max_migrants = 10
migration_topology = "ring"
reset_interval = 400
selection = "mix"
selection_mix = { uniform = 0.2, rank = 0.5, weighted = 0.3 }
num_inspirations = 4
archive_inspirations = 1
archive_size = 50
archive_policy = "crowding"

[[database.feature_dimensions]]
name = "ast_nodes"

[[database.feature_dimensions]]
name = "mean_gap"
min = 0.0
max = 2.0
bins = 8
"""


def test_the_documented_toml_example_loads() -> None:
    data = tomllib.loads(EXAMPLE_TOML)["database"]
    config = from_mapping(DatabaseConfig, data, "problem.toml")
    assert [d.name for d in config.dimensions] == ["ast_nodes", "mean_gap"]
    assert config.dimensions[0] == FeatureDimension("ast_nodes", width=0.25, scale="log")
    assert config.num_top_inspirations == 2 and config.reset_interval == 400
