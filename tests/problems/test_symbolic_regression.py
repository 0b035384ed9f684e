"""symbolic_regression (Nguyen-7): the data regenerate from the documented recipe,
the true law scores R^2 = 1 exactly, and broken models are invalid with a reason."""

from __future__ import annotations

import csv
import io
import math
import random

import pytest

from evolve.config import load_problem
from sandboxes.job import Sandbox, Status
from tests.problems.helpers import PROBLEMS, score

FOLDER = PROBLEMS / "symbolic_regression"


def nguyen7(x: float) -> float:
    return math.log(x + 1) + math.log(x * x + 1)


def as_csv(xs: list[float]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)  # its default line ending, \r\n
    writer.writerow(["x", "y"])
    writer.writerows([x, nguyen7(x)] for x in xs)
    return out.getvalue()


def test_the_data_files_are_the_documented_recipe() -> None:
    # README: 20 training x from random.Random(7) uniform on [0, 2], rounded to 6
    # decimals (sorted); 61 test x evenly spaced over [0, 3]; y from the formula.
    rng = random.Random(7)
    train = sorted(round(rng.uniform(0.0, 2.0), 6) for _ in range(20))
    test = [round(3.0 * i / 60, 6) for i in range(61)]
    assert (FOLDER / "train.csv").read_bytes().decode() == as_csv(train)
    assert (FOLDER / "test.csv").read_bytes().decode() == as_csv(test)


def test_the_true_law_scores_r2_of_exactly_one(process_box: Sandbox) -> None:
    code = (
        "import math\n"
        "def model(xs):\n"
        "    return [math.log(x + 1) + math.log(x * x + 1) for x in xs]\n"
    )
    result = score(process_box, "symbolic_regression", code)
    assert result.status == Status.OK, result.reason
    assert result.metrics["r2"] == 1.0
    assert result.metrics["r2_extrapolation"] == 1.0
    assert result.metrics["mse"] == 0.0


def test_a_near_miss_scores_below_one(process_box: Sandbox) -> None:
    code = "import math\ndef model(xs):\n    return [math.log(x + 1) + x * x / 2 for x in xs]\n"
    result = score(process_box, "symbolic_regression", code)
    assert result.status == Status.OK, result.reason
    assert 0.5 < result.metrics["r2"] < 1.0
    assert result.metrics["r2_extrapolation"] < result.metrics["r2"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("return [float('nan')] * len(xs)", "prediction 0 is nan"),
        ("return [0.0] * 3", "must return 20 numbers"),
        ("return {'y': 1}", "must return 20 numbers"),
        ("return ['1'] * len(xs)", "must be a number"),
    ],
)
def test_broken_models_are_invalid_with_a_reason(
    process_box: Sandbox, body: str, reason: str
) -> None:
    result = score(process_box, "symbolic_regression", f"def model(xs):\n    {body}\n")
    assert result.status == Status.INVALID, result.reason
    assert reason in result.reason


def test_the_held_out_points_are_the_documented_recipe() -> None:
    # README: 40 x evenly spaced over (3, 5], beyond both sets the prompts see.
    held_out = [round(3.0 + 2.0 * i / 40, 6) for i in range(1, 41)]
    assert (FOLDER / "holdout.csv").read_bytes().decode() == as_csv(held_out)
    test_xs = [float(line.split(",")[0]) for line in (FOLDER / "test.csv").read_text().split()[1:]]
    assert min(held_out) > max(test_xs) == 3.0


def test_the_held_out_scorer_is_found_and_scores_only_unseen_points(process_box: Sandbox) -> None:
    problem = load_problem(FOLDER)
    assert problem.holdout and "holdout.csv" not in problem.visible
    law = (
        "import math\n"
        "def model(xs):\n"
        "    assert min(xs) > 3.0 and len(xs) == 40, xs\n"
        "    return [math.log(x + 1) + math.log(x * x + 1) for x in xs]\n"
    )
    held = process_box.run(problem.make_job("test", law, entry="holdout"))
    assert held.status == Status.OK, held.reason
    assert held.metrics == {"r2": 1.0, "mse": 0.0}
    # the seed fits [0, 2] with R^2 0.76 and extrapolates far worse beyond 3
    seed = process_box.run(problem.make_job("test", problem.initial_code, entry="holdout"))
    assert seed.status == Status.OK, seed.reason
    assert round(seed.metrics["r2"], 3) == -2.505
    # and evaluate never reads the held-out points
    normal = process_box.run(problem.make_job("test", law))
    assert normal.status == Status.ERROR and "AssertionError" in normal.reason
