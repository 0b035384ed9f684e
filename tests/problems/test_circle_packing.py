"""circle_packing_26/32: the exact zero-tolerance check reproduces AlphaEvolve's
published sums, and rejects the smallest overlap with a reason that names it."""

from __future__ import annotations

import json
import math
import re

import pytest

from sandboxes.job import Sandbox, Status
from tests.problems.helpers import PROBLEMS, score, scorer_module

PUBLISHED = {26: "2.6358627564", 32: "2.9379445262"}


def reference(n: int) -> dict:
    path = PROBLEMS / f"circle_packing_{n}" / "reference" / f"alphaevolve_n{n}.json"
    return json.loads(path.read_text())


def returning(circles: list[list[float]]) -> str:
    """A candidate program whose construct() returns exactly these circles."""
    return f"def construct():\n    return {circles!r}\n".replace("nan", "float('nan')")


def slack(circles: list[list[float]], i: int) -> float:
    """How much circle ``i`` could grow before touching a side or a neighbour."""
    x, y, r = circles[i]
    room = min(x - r, 1 - x - r, y - r, 1 - y - r)
    for j, (u, v, q) in enumerate(circles):
        if j != i:
            room = min(room, math.hypot(x - u, y - v) - r - q)
    return room


@pytest.mark.parametrize("n", [26, 32])
def test_the_published_construction_scores_exactly_its_sum(process_box: Sandbox, n: int) -> None:
    ref = reference(n)
    assert len(ref["circles_xyr"]) == n
    result = score(process_box, f"circle_packing_{n}", returning(ref["circles_xyr"]))
    assert result.status == Status.OK, result.reason
    assert result.metrics["sum_radii"] == ref["sum_radii"]
    assert str(result.metrics["sum_radii"]).startswith(PUBLISHED[n])
    assert result.metrics["validity"] == 1.0
    assert "tightest contact" in result.artifacts["feedback"]


@pytest.mark.parametrize("n", [26, 32])
def test_an_overlap_of_1e9_is_rejected(process_box: Sandbox, n: int) -> None:
    # Every circle of the published constructions has 6e-9 or more of room (see the
    # next test), so the radius grows by its room plus 1e-9: an overlap of 1e-9.
    circles = [list(c) for c in reference(n)["circles_xyr"]]
    tight = min(range(n), key=lambda i: slack(circles, i))
    circles[tight][2] += slack(circles, tight) + 1e-9
    result = score(process_box, f"circle_packing_{n}", returning(circles))
    assert result.status == Status.INVALID
    assert re.search(rf"circles? (\d+ and )?{tight}\b", result.reason), result.reason
    assert "overlap by 1e-09" in result.reason or "side by 1e-09" in result.reason


@pytest.mark.parametrize("n", [26, 32])
def test_a_radius_grown_by_1e9_within_its_slack_is_still_valid(
    process_box: Sandbox, n: int
) -> None:
    # The published constructions leave every circle 6e-9 to 3e-8 of room, so a
    # plain +1e-9 is still a valid packing: the exact check accepts it, with the
    # larger sum (a scorer rejecting it would be using a tolerance of its own).
    circles = [list(c) for c in reference(n)["circles_xyr"]]
    assert min(slack(circles, i) for i in range(n)) > 1e-9
    circles[0][2] += 1e-9
    result = score(process_box, f"circle_packing_{n}", returning(circles))
    assert result.status == Status.OK, result.reason
    assert result.metrics["sum_radii"] > reference(n)["sum_radii"]


def test_the_exact_check_rejects_a_one_ulp_overlap() -> None:
    module = scorer_module("circle_packing_26")
    # Two circles that touch exactly are fine; move one by the smallest float step inward.
    touching = [[0.25, 0.5, 0.25], [0.75, 0.5, 0.25]] + [
        [0.01 * k + 0.05, 0.02, 0.001] for k in range(24)
    ]
    assert module.violations(touching) == []
    touching[1][0] = math.nextafter(0.75, 0.0)
    found = module.violations(touching)
    assert [text for _, text in found] == ["circles 0 and 1 overlap by 1.11e-16"]


def test_the_reason_counts_violations_and_names_the_deepest_first() -> None:
    module = scorer_module("circle_packing_26")
    circles = [[0.5, 0.5, 0.3], [0.6, 0.5, 0.3]]
    circles += [[0.04 * k + 0.02, 0.02, 0.01] for k in range(24)]
    circles[2][2] = 0.0201  # circle 2 now crosses the left and bottom sides by 1e-4
    found = module.violations(circles)
    text = module.explain(found, limit=2)
    assert len(found) == 3, found
    assert text.startswith("circles 0 and 1 overlap by 0.5; circle 2 crosses the "), text
    assert "side by 0.0001" in text
    assert text.endswith("(and 1 more)")


@pytest.mark.parametrize(
    ("circles", "reason"),
    [
        ([[0.5, 0.5, 0.1]] * 25, "returned 25 circles"),
        ([[0.5, 0.5, float("nan")]] + [[0.1, 0.1, 0.01]] * 25, "circle 0 r"),
        ([[0.05, 0.5, 0.1]] + [[0.5, 0.9, 0.001]] * 25, "crosses the left side"),
        ([[0.5, 0.5, -0.1]] + [[0.5, 0.9, 0.001]] * 25, "negative radius"),
        (
            [[0.3, 0.3, 0.2], [0.5, 0.3, 0.2]] + [[0.04 * k + 0.02, 0.9, 0.01] for k in range(24)],
            "",
        ),
        ([[0.5, 0.5, "0.1"]] * 26, "must be a number"),
        ({"x": 1}, "must return a list of 26"),
    ],
)
def test_broken_packings_are_invalid_with_a_reason(
    process_box: Sandbox, circles: object, reason: str
) -> None:
    result = score(process_box, "circle_packing_26", returning(circles))  # type: ignore[arg-type]
    assert result.status == Status.INVALID, result.reason
    assert reason in result.reason
    if not reason:  # the overlapping pair, with its depth
        assert "1 violated constraint(s): circles 0 and 1 overlap by 0.2" in result.reason


def test_a_candidate_that_crashes_is_an_error_with_its_traceback(process_box: Sandbox) -> None:
    code = "def construct():\n    return 1 / 0\n"
    result = score(process_box, "circle_packing_26", code)
    assert result.status == Status.ERROR
    assert "ZeroDivisionError" in result.reason
