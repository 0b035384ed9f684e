"""Programs shared by the edit-engine and mutator tests."""

# A typical numeric-optimisation seed: random search with tunable constants.
RANDOM_SEARCH = '''"""Minimise f by random search."""
import random

TARGET = 3.7


# EVOLVE-BLOCK-START
def search(f, rng):
    iterations = 50
    step = 0.5
    x = 2.0
    best = f(x)
    for _ in range(iterations):
        cand = x + rng.uniform(-step, step)
        val = f(cand)
        if val < best:
            best, x = val, cand
    return x, best
# EVOLVE-BLOCK-END


def run():
    return search(lambda x: (x - TARGET) ** 2, random.Random(0))
'''

# Two regions, indented markers, strings and comments that look like code.
TWO_REGIONS = """import math

def f(x):
    # EVOLVE-BLOCK-START
    a = -1.5e-3 * x + 2  # scale = 3 * 4
    b = a ** 2 if a >= 0 else -a
    s = "keep 1 + 2 < 3 True"
    return a + b
    # EVOLVE-BLOCK-END

LIMIT = 10  # not evolvable

# EVOLVE-BLOCK-START
def g(values, flag=True):
    total = 0
    for v in values:
        if v > LIMIT:
            total += v * 2
    return total / max(len(values), 1)
# EVOLVE-BLOCK-END
"""
