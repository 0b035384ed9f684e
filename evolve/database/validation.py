"""Validation helpers shared by the database's config dataclasses.

Each raises ``ValueError`` whose message starts with the field name and states
the allowed range, so the config loader only has to put the file name in front.
"""

from __future__ import annotations

import math

__all__ = ["at_least", "finite_number", "positive_number", "unit_interval"]


def at_least(name: str, value: object, low: int, allowed: str | None = None) -> None:
    """Raise unless ``value`` is an int (not a bool) >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be {allowed or f'an integer >= {low}'}, got {value!r}")


def unit_interval(name: str, value: object) -> None:
    """Raise unless ``value`` is a real number in [0, 1] (NaN fails the comparison)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")


def finite_number(name: str, value: object, low: float | None = None) -> None:
    """Raise unless ``value`` is a finite real number (>= ``low`` when given)."""
    ok = (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and (low is None or value >= low)
    )
    if not ok:
        bound = "" if low is None else f" >= {low:g}"
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")


def positive_number(name: str, value: object) -> None:
    """Raise unless ``value`` is a finite real number > 0."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
