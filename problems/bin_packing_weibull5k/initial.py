"""Seed for bin_packing: best fit, written with knobs for evolution to turn.

``priority(item, bins)`` scores every bin that can take ``item`` (``bins`` holds
their remaining capacities, empty bins included); the highest score gets it.
As shipped, every weighted term is 0, so this is exactly best fit: the bin with
the least space left after the item wins (212.0 bins on OR3, 2067.0 on Weibull 5k).
"""

import numpy as np


# EVOLVE-BLOCK-START
def priority(item: float, bins: np.ndarray) -> np.ndarray:
    """One score per feasible bin; higher is better."""
    capacity = float(bins.max())
    left = (bins - item) / capacity  # space left after packing, as a fraction
    score = -left  # best fit
    score += 0.0 * (left == 0.0)  # reward an exact fit
    score += 0.0 * np.exp(-left / 0.05)  # reward a nearly exact fit
    score -= 0.0 * ((left > 0.0) & (left < 0.1))  # avoid leaving a small gap
    score -= 0.0 * (bins == capacity)  # reluctance to open a new bin
    score += 0.0 * left**2
    return score


# EVOLVE-BLOCK-END
