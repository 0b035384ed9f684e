"""Seed for circle_packing_32: staggered rows of centres, each circle as large as fits.

Evolution moves the centres (the block below); the radii are then the largest
that keep every circle inside the square and clear of its neighbours (half the
distance to the nearest centre), shrunk by one part in 10^12 so rounding can
never make a touching pair overlap. Any layout therefore gives a valid packing.
"""

import math

N = 32


# EVOLVE-BLOCK-START
def centres() -> list[tuple[float, float]]:
    """N points in the unit square: rows of circles, alternate rows shifted."""
    rows = [6, 5, 6, 5, 5, 5]
    margin_x = 0.1
    margin_y = 0.1
    shift = 0.25
    points = []
    for k, count in enumerate(rows):
        y = margin_y + (1.0 - 2.0 * margin_y) * k / (len(rows) - 1)
        offset = shift if k % 2 else 0.0
        for i in range(count):
            x = margin_x + (1.0 - 2.0 * margin_x) * (i + offset) / (count - 1 + shift)
            points.append((x, y))
    return points[:N]


# EVOLVE-BLOCK-END


def radii(points: list[tuple[float, float]]) -> list[float]:
    """The largest radii for these centres under the simple half-distance rule."""
    result = []
    for i, (x, y) in enumerate(points):
        r = min(x, 1.0 - x, y, 1.0 - y)
        for j, (u, v) in enumerate(points):
            if i != j:
                r = min(r, math.hypot(x - u, y - v) / 2.0)
        result.append(max(0.0, r * (1.0 - 1e-12)))
    return result


def construct() -> list[tuple[float, float, float]]:
    """The packing the scorer checks: N triples (x, y, r)."""
    points = [(min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)) for x, y in centres()]
    return [(x, y, r) for (x, y), r in zip(points, radii(points), strict=True)]
