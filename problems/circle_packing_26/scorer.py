"""Scorer for circle_packing_26: N disjoint circles in the unit square, maximise the sum of radii.

The candidate's ``construct()`` runs in a child process (call_candidate) and
returns N triples (x, y, r). They are checked here with **zero tolerance** in
exact rational arithmetic (every float converted exactly with
``fractions.Fraction``): each circle lies inside [0, 1]^2 (x - r >= 0,
x + r <= 1, likewise y), no two overlap (squared centre distance >=
(r_i + r_j)^2, which for non-negative radii is the same test as
distance >= r_i + r_j, without a square root's rounding), radii are finite
and non-negative, and there are exactly N circles. A packing that fails any
of these is INVALID, with a reason naming the circles and by how much; the
score of a valid one is ``math.fsum`` of the radii (correctly rounded).
"""

import math
from fractions import Fraction

from evaluators import InvalidCandidate, as_float, call_candidate

N = 26
CALL_TIMEOUT_S = 30.0


def _circles(value: object) -> list[tuple[float, float, float]]:
    if not isinstance(value, list):
        raise InvalidCandidate(
            f"construct() must return a list of {N} (x, y, r), got {type(value).__name__}"
        )
    if len(value) != N:
        raise InvalidCandidate(f"construct() returned {len(value)} circles; exactly {N} are needed")
    circles = []
    for i, c in enumerate(value):
        if not isinstance(c, list) or len(c) != 3:
            raise InvalidCandidate(f"circle {i} must be (x, y, r), got {str(c)[:60]}")
        x, y, r = (as_float(v, f"circle {i} {name}") for v, name in zip(c, "xyr", strict=True))
        if r < 0:
            raise InvalidCandidate(f"circle {i} has a negative radius {r!r}")
        circles.append((x, y, r))
    return circles


def violations(circles: list[tuple[float, float, float]], limit: int = 5) -> list[str]:
    """Every broken constraint (up to ``limit``), checked exactly."""
    found: list[str] = []
    exact = [(Fraction(x), Fraction(y), Fraction(r)) for x, y, r in circles]
    for i, (x, y, r) in enumerate(exact):
        for name, margin in (
            ("left", x - r),
            ("right", 1 - x - r),
            ("bottom", y - r),
            ("top", 1 - y - r),
        ):
            if margin < 0:
                found.append(f"circle {i} crosses the {name} side by {float(-margin):.3g}")
    for i in range(len(exact)):
        xi, yi, ri = exact[i]
        for j in range(i + 1, len(exact)):
            xj, yj, rj = exact[j]
            gap2 = (xi - xj) ** 2 + (yi - yj) ** 2 - (ri + rj) ** 2
            if gap2 < 0:
                depth = float(ri + rj) - math.hypot(float(xi - xj), float(yi - yj))
                found.append(f"circles {i} and {j} overlap by {max(depth, 0.0):.3g}")
        if len(found) >= limit:
            break
    return found[:limit]


def score_circles(value: object) -> dict:
    """Check a construction and return its metrics (raises InvalidCandidate)."""
    circles = _circles(value)
    broken = violations(circles)
    if broken:
        raise InvalidCandidate("; ".join(broken))
    return {
        "sum_radii": math.fsum(r for _, _, r in circles),
        "min_radius": min(r for _, _, r in circles),
    }


def evaluate(program_path: str) -> dict:
    return score_circles(call_candidate(program_path, "construct", timeout_s=CALL_TIMEOUT_S))
