"""Scorer for circle_packing_32: N disjoint circles in the unit square, maximise the sum of radii.

The candidate's ``construct()`` runs in a child process (call_candidate) and
returns N triples (x, y, r). They are checked here with **zero tolerance** in
exact rational arithmetic (every float converted exactly with
``fractions.Fraction``): each circle lies inside [0, 1]^2 (x - r >= 0,
x + r <= 1, likewise y), no two overlap (squared centre distance >=
(r_i + r_j)^2, which for non-negative radii is the same test as
distance >= r_i + r_j, without a square root's rounding), radii are finite
and non-negative, and there are exactly N circles. A packing that fails any
of these is INVALID; its reason counts the violations and names the deepest
five (which circles or side, by how much). Exact arithmetic makes the verdict
independent of rounding: the published AlphaEvolve constructions pass it (each
circle keeps 6e-9 or more of room), and an overlap of one ulp fails it.

Metrics of a valid packing: ``sum_radii`` (the objective: ``math.fsum`` of the
radii, correctly rounded, so the published constructions score exactly their
published sums), ``validity`` (1.0) and ``min_radius``; the ``feedback``
artifact names the tightest contact.
"""

import math
from fractions import Fraction

from evaluators import InvalidCandidate, as_float, call_candidate

N = 32
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


def violations(circles: list[tuple[float, float, float]]) -> list[tuple[Fraction, str]]:
    """Every broken constraint, checked exactly: (how deep, which circles and by how much)."""
    found: list[tuple[Fraction, str]] = []
    exact = [(Fraction(x), Fraction(y), Fraction(r)) for x, y, r in circles]
    for i, (x, y, r) in enumerate(exact):
        for name, margin in (
            ("left", x - r),
            ("right", 1 - x - r),
            ("bottom", y - r),
            ("top", 1 - y - r),
        ):
            if margin < 0:
                found.append(
                    (-margin, f"circle {i} crosses the {name} side by {float(-margin):.3g}")
                )
    for i in range(len(exact)):
        xi, yi, ri = exact[i]
        for j in range(i + 1, len(exact)):
            xj, yj, rj = exact[j]
            gap2 = (xi - xj) ** 2 + (yi - yj) ** 2 - (ri + rj) ** 2
            if gap2 < 0:
                # The depth is for the message only; the verdict is gap2's exact sign.
                depth = max(float(ri + rj) - math.hypot(float(xi - xj), float(yi - yj)), 0.0)
                found.append((Fraction(depth), f"circles {i} and {j} overlap by {depth:.3g}"))
    return found


def explain(found: list[tuple[Fraction, str]], limit: int = 5) -> str:
    """The deepest ``limit`` violations, and how many there are in all."""
    worst = [text for _, text in sorted(found, key=lambda item: -item[0])[:limit]]
    more = f" (and {len(found) - limit} more)" if len(found) > limit else ""
    return "; ".join(worst) + more


def tightest(circles: list[tuple[float, float, float]]) -> str:
    """Feedback for a valid packing: the pair (or side) with the least room, in floats."""
    best = (math.inf, "")
    for i, (x, y, r) in enumerate(circles):
        side = min(x - r, 1 - x - r, y - r, 1 - y - r)
        best = min(best, (side, f"circle {i} and a side"))
        for j in range(i + 1, len(circles)):
            u, v, q = circles[j]
            best = min(best, (math.hypot(x - u, y - v) - r - q, f"circles {i} and {j}"))
    return f"the tightest contact is {best[1]} (gap {max(best[0], 0.0):.3g})"


def score_circles(value: object) -> dict:
    """Check a construction and return its metrics and feedback (raises InvalidCandidate)."""
    circles = _circles(value)
    found = violations(circles)
    if found:
        raise InvalidCandidate(f"{len(found)} violated constraint(s): {explain(found)}")
    total = math.fsum(r for _, _, r in circles)
    return {
        "metrics": {
            "sum_radii": total,
            "validity": 1.0,
            "min_radius": min(r for _, _, r in circles),
        },
        "artifacts": {
            "feedback": f"valid packing of {N} circles, sum of radii {total!r}; "
            + tightest(circles)
        },
    }


def evaluate(program_path: str) -> dict:
    return score_circles(call_candidate(program_path, "construct", timeout_s=CALL_TIMEOUT_S))
