"""Scorer for function_minimization.

The candidate's `search(seed)` runs in a child process (call_candidate), so it
cannot patch this module; the returned point is checked and scored here with
this module's own copy of the objective.
"""

import math

from evaluators import InvalidCandidate, as_float, call_candidate

# Global minimum of the objective on [-5, 5]^2: a 4001x4001 grid search refined
# by pattern search to machine precision, at (-1.7040828..., 0.6775078...).
GLOBAL_MINIMUM = -1.518685840848579
BOUND = 5.0
SEEDS = (0, 1, 2, 3, 4)
CALL_TIMEOUT_S = 3.0


def objective(x: float, y: float) -> float:
    return math.sin(x) * math.cos(y) + math.sin(x * y) + (x**2 + y**2) / 20


def _point(value: object) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise InvalidCandidate(f"search() must return (x, y), got {str(value)[:80]}")
    x, y = as_float(value[0], "x"), as_float(value[1], "y")
    if abs(x) > BOUND or abs(y) > BOUND:
        raise InvalidCandidate(f"point ({x:.4g}, {y:.4g}) lies outside [-5, 5]^2")
    return x, y


def evaluate(program_path: str) -> dict:
    gaps = []
    for seed in SEEDS:
        x, y = _point(
            call_candidate(program_path, "search", args=(seed,), timeout_s=CALL_TIMEOUT_S)
        )
        gaps.append(max(0.0, objective(x, y) - GLOBAL_MINIMUM))
    mean_gap = sum(gaps) / len(gaps)
    return {
        "metrics": {
            "score": 1.0 / (1.0 + mean_gap),
            "mean_gap": mean_gap,
            "worst_gap": max(gaps),
            "solved_fraction": sum(g < 1e-3 for g in gaps) / len(gaps),
        },
        "artifacts": {
            "feedback": f"mean gap to the global minimum {mean_gap:.4g} over {len(SEEDS)} seeds"
        },
    }
