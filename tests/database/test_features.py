"""Feature values and bins: built-ins from code, metrics, no drift, an unknown cell."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evolve.database import FeatureDimension
from evolve.database.binning import UNKNOWN_CELL, cell_coordinate, cell_of
from evolve.database.features import ast_depth, ast_nodes, code_length, feature_values

finite = st.floats(-1e12, 1e12, allow_nan=False)


def test_builtin_features_read_the_code() -> None:
    code = "def f(x):\n    if x:\n        return x + 1\n    return 0\n"
    assert code_length(code) == len(code)
    assert ast_nodes(code) > 8
    assert ast_depth(code) >= 5
    assert ast_depth("x = 1\n") < ast_depth(code)
    assert math.isnan(ast_nodes("def (")) and math.isnan(ast_depth("def ("))


def test_feature_values_mix_builtins_and_metrics_and_mark_missing_as_nan() -> None:
    code = "x = 1\n"
    values = feature_values(
        code,
        {"speed": 2, "flag": True, "name": "fast", "inf": math.inf, "code_length": 99.0},
        ["code_length", "speed", "flag", "name", "inf", "absent", "ast_nodes"],
    )
    assert values[0] == len(code)  # the built-in wins over a metric with its name
    assert values[1] == 2.0
    assert all(math.isnan(v) for v in values[2:6])
    assert values[6] == ast_nodes(code)


def test_fixed_range_bins_clamp_to_the_edges() -> None:
    dim = FeatureDimension("score", min=0.0, max=1.0, bins=4)
    assert [cell_coordinate(v, dim) for v in (-5.0, 0.0, 0.24, 0.25, 0.99, 1.0, 7.0)] == [
        0,
        0,
        0,
        1,
        3,
        3,
        3,
    ]


def test_missing_values_fall_in_the_unknown_cell() -> None:
    dims = (FeatureDimension("a", min=0.0, max=1.0, bins=4), FeatureDimension("b", width=2.0))
    assert cell_of([math.nan, 3.0], dims) == (UNKNOWN_CELL, 1)
    assert cell_of([0.5, math.inf], dims) == (2, UNKNOWN_CELL)


@given(value=finite, width=st.floats(1e-3, 1e3))
def test_unbounded_grid_cell_depends_only_on_the_value(value: float, width: float) -> None:
    dim = FeatureDimension("x", width=width)
    cell = cell_coordinate(value, dim)
    assert cell == min(max(math.floor(value / width), -(2**31) + 2), 2**31 - 2)
    assert cell != UNKNOWN_CELL


@given(a=finite, b=finite, scale=st.sampled_from(["linear", "log"]))
def test_bins_are_monotone_on_both_scales(a: float, b: float, scale: str) -> None:
    low, high = sorted((a, b))
    for dim in (
        FeatureDimension("x", width=0.25, scale=scale),
        FeatureDimension("x", min=-100.0, max=1e4, bins=7, scale=scale),
    ):
        assert cell_coordinate(low, dim) <= cell_coordinate(high, dim)


def test_log_grid_gives_four_cells_per_doubling_by_default() -> None:
    dim = FeatureDimension("code_length")
    assert dim.scale == "log" and dim.width == 0.25
    assert cell_coordinate(0.0, dim) == 0
    assert cell_coordinate(2**10 - 1, dim) == 40  # log2(1 + v) = 10
    assert cell_coordinate(-(2**10 - 1), dim) == -40
    assert FeatureDimension("ast_depth").width == 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min": 0.0, "max": 1.0}, "must set all of min, max and bins"),
        ({"min": 0.0, "max": 1.0, "bins": 3, "width": 1.0}, "must set all of min, max and bins"),
        ({"min": 1.0, "max": 1.0, "bins": 3}, "max must be > min"),
        ({"min": 0.0, "max": math.inf, "bins": 3}, "max must be a finite number"),
        ({"min": 0.0, "max": 1.0, "bins": 0}, "bins must be an integer >= 1"),
        ({"width": 0.0}, "width must be a finite number > 0"),
        ({"width": 1.0, "scale": "cubic"}, "scale must be 'linear' or 'log'"),
    ],
)
def test_bad_dimension_specs_raise(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FeatureDimension("x", **kwargs)
