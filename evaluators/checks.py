"""Strict numeric helpers for scorers.

A candidate's output is hostile data: a "number" may be a string, a bool, NaN,
a ragged list or a 10 GB array. These helpers turn it into plain floats or
raise :class:`InvalidCandidate`, which the harness reports as status INVALID
with the message as the one-line reason. ``InvalidCandidate`` subclasses
``ValueError`` so scorers written against plain Python still read naturally.

    from evaluators import as_float, require_finite_array, InvalidCandidate

    radius = as_float(value, "radius")
    centers = require_finite_array(points, "centers", shape=(26, 2))
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["InvalidCandidate", "as_float", "require_finite", "require_finite_array"]


class InvalidCandidate(ValueError):
    """The candidate ran but its output is unacceptable (status INVALID)."""


def _plain_number(value: Any) -> Any:
    """numpy scalars (and 0-d arrays) as Python numbers, without importing numpy."""
    if type(value).__module__ == "numpy" and getattr(value, "shape", None) == ():
        return value.item()
    return value


def as_float(value: Any, name: str) -> float:
    """``value`` as a finite float; bools, strings and containers are rejected."""
    value = _plain_number(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidCandidate(f"{name} must be a number, got {type(value).__name__}")
    try:
        result = float(value)
    except OverflowError:
        raise InvalidCandidate(f"{name} is too large to be a float") from None
    if not math.isfinite(result):
        raise InvalidCandidate(f"{name} is {result}, expected a finite number")
    return result


def require_finite(value: Any, name: str) -> float:
    """Alias of :func:`as_float`, for scorers that read better with it."""
    return as_float(value, name)


def require_finite_array(
    value: Any,
    name: str,
    shape: tuple[int | None, ...] | None = None,
    max_items: int = 10_000_000,
) -> list[Any]:
    """A (nested) list of finite floats from a list, tuple or numpy array.

    ``shape`` may use None for "any length" in a dimension. The result is plain
    Python lists, so the caller never depends on numpy being importable.
    ``max_items`` bounds the work done on a huge output.
    """
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        size = getattr(value, "size", 0)
        if size > max_items:
            raise InvalidCandidate(f"{name} has {size} items, more than {max_items}")
        value = value.tolist()
    if not isinstance(value, list | tuple):
        raise InvalidCandidate(f"{name} must be a list or an array, got {type(value).__name__}")
    result: list[Any] = _finite_nested(value, name, [max_items])
    if shape is not None:
        _check_shape(result, shape, name)
    return result


def _finite_nested(value: Any, name: str, budget: list[int]) -> Any:
    if isinstance(value, list | tuple):
        budget[0] -= len(value)
        if budget[0] < 0:
            raise InvalidCandidate(f"{name} has too many items")
        return [_finite_nested(item, f"{name}[{i}]", budget) for i, item in enumerate(value)]
    return as_float(value, name)


def _check_shape(value: Any, shape: tuple[int | None, ...], name: str) -> None:
    if not shape:
        if isinstance(value, list):
            raise InvalidCandidate(f"{name} has more dimensions than expected")
        return
    if not isinstance(value, list):
        raise InvalidCandidate(f"{name} should have {len(shape)} more dimension(s)")
    expected = shape[0]
    if expected is not None and len(value) != expected:
        raise InvalidCandidate(f"{name} has length {len(value)}, expected {expected}")
    for i, item in enumerate(value):
        _check_shape(item, shape[1:], f"{name}[{i}]")
