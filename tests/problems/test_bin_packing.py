"""bin_packing_or3/weibull5k: best fit scores exactly FunSearch's published figures,
the seed is best fit, and broken or forged heuristics are caught with a reason."""

from __future__ import annotations

import pytest

from sandboxes.job import Sandbox, Status
from tests.problems.helpers import score, scorer_module

BEST_FIT = "import numpy as np\ndef priority(item, bins):\n    return -(bins - item)\n"
FIRST_FIT = "import numpy as np\ndef priority(item, bins):\n    return -np.arange(len(bins))\n"
PUBLISHED = [("bin_packing_or3", 212.0, 5.37), ("bin_packing_weibull5k", 2067.0, 3.98)]


@pytest.mark.parametrize(("problem", "bins", "excess"), PUBLISHED)
def test_best_fit_scores_the_published_figures(
    process_box: Sandbox, problem: str, bins: float, excess: float
) -> None:
    for code in (BEST_FIT, None):  # the textbook form, and the shipped seed
        result = score(process_box, problem, code)
        assert result.status == Status.OK, result.reason
        assert result.metrics["mean_bins"] == bins
        assert round(result.metrics["excess_pct"], 2) == excess


def test_l1_bound_is_the_published_mean() -> None:
    for problem, bound in (("bin_packing_or3", 201.2), ("bin_packing_weibull5k", 1987.8)):
        module = scorer_module(problem)
        instances = module.load_instances()
        bounds = [module.l1_bound(instance) for instance in instances.values()]
        assert sum(bounds) / len(bounds) == pytest.approx(bound, abs=1e-9)


def test_first_fit_scores_differently_from_best_fit(process_box: Sandbox) -> None:
    # The scorer really follows the heuristic: first fit (lowest index wins) is
    # its own number, worse than best fit on OR3.
    result = score(process_box, "bin_packing_or3", FIRST_FIT)
    assert result.status == Status.OK, result.reason
    assert result.metrics["mean_bins"] > 212.0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("return np.zeros(3)", "returned shape (3,)"),
        ("return bins * float('nan')", "NaN or infinity"),
        ("return bins * float('inf')", "NaN or infinity"),
        ("raise RuntimeError('boom')", "boom"),
        ("return 'abc'", "returned shape ()"),
    ],
)
def test_broken_heuristics_are_invalid_with_a_reason(
    process_box: Sandbox, body: str, reason: str
) -> None:
    code = f"import numpy as np\ndef priority(item, bins):\n    {body}\n"
    result = score(process_box, "bin_packing_or3", code)
    assert result.status == Status.INVALID, result.reason
    assert reason in result.reason


def test_a_forged_packing_is_caught_by_the_replay() -> None:
    module = scorer_module("bin_packing_or3")
    instances = module.load_instances()
    name = next(iter(instances))
    everything_in_bin_0 = {k: [0] * len(v["items"]) for k, v in instances.items()}
    with pytest.raises(module.InvalidCandidate, match="overfills bin 0"):
        module.score_choices(instances, everything_in_bin_0)
    with pytest.raises(module.InvalidCandidate, match="every item"):
        module.bins_used(instances[name], [0])
    with pytest.raises(module.InvalidCandidate, match="does not exist"):
        module.bins_used(instances[name], [10**6] * len(instances[name]["items"]))
    with pytest.raises(module.InvalidCandidate, match="every instance"):
        module.score_choices(instances, {name: [0]})
