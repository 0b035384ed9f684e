"""Seed program: find the global minimum of a bumpy 2-D function.

Evolution may change only the code between the EVOLVE-BLOCK markers: the
search strategy. The scorer calls `search(seed)` in a separate process and
scores the returned point with its own copy of the objective.
"""

import math
import random


def objective(x: float, y: float) -> float:
    """Many local minima; the global one is near (-1.704, 0.678)."""
    return math.sin(x) * math.cos(y) + math.sin(x * y) + (x**2 + y**2) / 20


# EVOLVE-BLOCK-START
def search(seed: int) -> tuple[float, float]:
    """Random search over [-5, 5]^2, then a short local refinement."""
    rng = random.Random(seed)
    best_x = rng.uniform(-5.0, 5.0)
    best_y = rng.uniform(-5.0, 5.0)
    best_value = objective(best_x, best_y)
    for _ in range(10):
        x = rng.uniform(-5.0, 5.0)
        y = rng.uniform(-5.0, 5.0)
        value = objective(x, y)
        if value < best_value:
            best_x, best_y, best_value = x, y, value
    step = 0.5
    for _ in range(5):
        x = min(5.0, max(-5.0, best_x + rng.gauss(0.0, step)))
        y = min(5.0, max(-5.0, best_y + rng.gauss(0.0, step)))
        value = objective(x, y)
        if value < best_value:
            best_x, best_y, best_value = x, y, value
    return best_x, best_y


# EVOLVE-BLOCK-END
