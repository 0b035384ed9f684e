"""Seed for symbolic_regression: a small weighted sum of candidate terms.

Evolution changes the weights and the terms inside the block; the true law is
ln(x + 1) + ln(x^2 + 1) (Nguyen-7), which none of these terms is exactly.
"""

import numpy as np


# EVOLVE-BLOCK-START
def model(xs: list[float]) -> list[float]:
    """Predict y for each x."""
    x = np.asarray(xs, dtype=float)
    y = 0.8 * x
    y = y + 0.1 * x**2
    y = y + 0.0 * np.sqrt(x)
    y = y + 0.0 * np.log1p(x)
    y = y + 0.05
    return y.tolist()


# EVOLVE-BLOCK-END
