"""Cells of the MAP-Elites grid: which bin a feature value falls in.

The cell of a value depends only on the value and its dimension's spec, never
on the programs seen so far (OpenEvolve's bins follow running min/max
statistics, so programs silently change cells). Unbounded dimensions use a
fixed-width grid whose index is floor(value / width): new values may open new
cells, but an existing cell never moves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from evolve.database.config import FeatureDimension

__all__ = ["UNKNOWN_CELL", "cell_coordinate", "cell_of", "transform"]

# Missing or non-finite values share this coordinate; real coordinates are
# clamped strictly inside the int32 range, so none can collide with it.
UNKNOWN_CELL = -(2**31)
_LIMIT = 2**31 - 2


def transform(value: float, scale: str | None) -> float:
    """``value`` on the dimension's scale: itself (linear, or no scale given), or
    sign(v) * log2(1 + |v|)."""
    if scale == "log":
        return math.copysign(math.log2(1.0 + abs(value)), value)
    return value


def cell_coordinate(value: float, dim: FeatureDimension) -> int:
    """Bin index of ``value`` along ``dim`` (``UNKNOWN_CELL`` for NaN or infinity)."""
    if not math.isfinite(value):
        return UNKNOWN_CELL
    t = transform(value, dim.scale)
    # FeatureDimension guarantees a fixed range (min, max, bins) or a width.
    if dim.bins is not None and dim.min is not None and dim.max is not None:
        lo = transform(dim.min, dim.scale)
        hi = transform(dim.max, dim.scale)
        index = math.floor((t - lo) / (hi - lo) * dim.bins)
        return min(max(index, 0), dim.bins - 1)
    assert dim.width is not None
    index = math.floor(t / dim.width)
    return min(max(index, -_LIMIT), _LIMIT)


def cell_of(values: Sequence[float], dims: Sequence[FeatureDimension]) -> tuple[int, ...]:
    """The cell (one coordinate per dimension) of a feature vector."""
    return tuple(cell_coordinate(v, d) for v, d in zip(values, dims, strict=True))
