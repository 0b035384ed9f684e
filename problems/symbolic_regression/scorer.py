"""Scorer for symbolic_regression: recover Nguyen-7, y = ln(x + 1) + ln(x^2 + 1).

The candidate's ``model(xs)`` runs in a child process (call_candidate) on the
20 training points (x in [0, 2]) and on 61 points over [0, 3] (the last third
extrapolates). Predictions must be one finite number per point.

Metrics: ``r2`` on the training points (the objective; 1.0 is a perfect fit),
``r2_extrapolation`` on the 61 points, and ``mse``. Both sets reach the prompts
(as metrics) and steer the search (``r2_extrapolation`` is a feature dimension).

``evaluate_holdout`` scores ``r2`` and ``mse`` on 40 more points, x in (3, 5]
(``holdout.csv``), that no prompt and no metric of ``evaluate`` ever shows: evolve
runs it only for each new best and in ``evolve verify``, and records it apart.
"""

import csv
import math
import os

from evaluators import InvalidCandidate, as_float, call_candidate

CALL_TIMEOUT_S = 10.0


def load(name: str) -> tuple[list[float], list[float]]:
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), name)) as f:
        rows = list(csv.DictReader(f))
    return [float(r["x"]) for r in rows], [float(r["y"]) for r in rows]


def predictions(value: object, n: int) -> list[float]:
    if not isinstance(value, list) or len(value) != n:
        raise InvalidCandidate(f"model() must return {n} numbers, got {str(value)[:80]}")
    return [as_float(v, f"prediction {i}") for i, v in enumerate(value)]


def r2(ys: list[float], preds: list[float]) -> float:
    mean = math.fsum(ys) / len(ys)
    total = math.fsum((y - mean) ** 2 for y in ys)
    residual = math.fsum((y - p) ** 2 for y, p in zip(ys, preds, strict=True))
    return 1.0 - residual / total


def score_predictions(train: list[float], test: list[float]) -> dict:
    xs, ys = load("train.csv")
    tx, ty = load("test.csv")
    train_preds, test_preds = predictions(train, len(xs)), predictions(test, len(tx))
    mse = math.fsum((y - p) ** 2 for y, p in zip(ys, train_preds, strict=True)) / len(ys)
    return {
        "r2": r2(ys, train_preds),
        "r2_extrapolation": max(-1e6, r2(ty, test_preds)),
        "mse": mse,
    }


def evaluate(program_path: str) -> dict:
    xs, _ = load("train.csv")
    tx, _ = load("test.csv")
    train = call_candidate(program_path, "model", args=(xs,), timeout_s=CALL_TIMEOUT_S)
    test = call_candidate(program_path, "model", args=(tx,), timeout_s=CALL_TIMEOUT_S)
    return score_predictions(train, test)


def evaluate_holdout(program_path: str) -> dict:
    """R^2 and mse on the held-out points, x in (3, 5]: how far the formula
    extrapolates beyond anything the search saw."""
    hx, hy = load("holdout.csv")
    preds = predictions(
        call_candidate(program_path, "model", args=(hx,), timeout_s=CALL_TIMEOUT_S), len(hx)
    )
    mse = math.fsum((y - p) ** 2 for y, p in zip(hy, preds, strict=True)) / len(hy)
    return {"r2": max(-1e6, r2(hy, preds)), "mse": mse}
