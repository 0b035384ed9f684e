from __future__ import annotations

from collections import Counter
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evolve.database import DatabaseConfig, PopulationDatabase
from evolve.database.selection import expected_rank_share, power_law_rank, weighted_rule
from evolve.records import Status
from tests.database.builders import child_of, make_program


@given(
    n=st.integers(1, 10_000),
    exponent=st.floats(0, 20),
    u=st.floats(0, 1, exclude_max=True),
)
def test_power_law_rank_stays_in_range(n: int, exponent: float, u: float) -> None:
    assert 0 <= power_law_rank(n, exponent, u) < n


@given(n=st.integers(1, 500), exponent=st.floats(0, 5), u=st.floats(0, 0.999), du=st.floats(0, 1))
def test_power_law_rank_is_monotone_in_u(n: int, exponent: float, u: float, du: float) -> None:
    v = min(u + du * (1 - u), np.nextafter(1.0, 0.0))
    assert power_law_rank(n, exponent, u) <= power_law_rank(n, exponent, v)


@pytest.mark.parametrize("exponent", [0.0, 0.5, 1.0, 2.0])
def test_expected_shares_sum_to_one_and_never_increase(exponent: float) -> None:
    shares = [expected_rank_share(30, exponent, r) for r in range(30)]
    assert sum(shares) == pytest.approx(1.0)
    assert all(a >= b - 1e-12 for a, b in pairwise(shares))


def _ranked_island(config: DatabaseConfig, size: int) -> PopulationDatabase:
    """One island holding programs with fitness 0..size-1 (rank r has fitness size-1-r)."""
    db = PopulationDatabase(config, seed=7)
    seed = make_program("p0", 0.0)
    db.add(seed)
    for i in range(1, size):
        db.add(child_of(seed, f"p{i}", float(i), island=0))
    return db


def _parent_rank_counts(db: PopulationDatabase, draws: int, size: int) -> Counter[int]:
    return Counter(size - 1 - int(db.sample(0).parent.fitness) for _ in range(draws))


def test_rank_selection_follows_power_law_over_ranks() -> None:
    size, draws = 20, 20_000
    config = DatabaseConfig(num_islands=1, exploration_ratio=0.0, num_inspirations=0)
    counts = _parent_rank_counts(_ranked_island(config, size), draws, size)
    for rank in range(size):
        expected = expected_rank_share(size, 1.0, rank)
        assert counts[rank] / draws == pytest.approx(expected, abs=0.015), rank
    assert counts[0] > 4 * counts[size - 1]


def test_rank_selection_with_exploration_still_favours_better_programs() -> None:
    size, draws = 20, 10_000
    config = DatabaseConfig(num_islands=1, exploration_ratio=0.3, num_inspirations=0)
    counts = _parent_rank_counts(_ranked_island(config, size), draws, size)
    top_quarter = sum(counts[r] for r in range(5))
    bottom_quarter = sum(counts[r] for r in range(15, 20))
    assert top_quarter > 2 * bottom_quarter
    assert all(counts[r] > 0 for r in range(size))  # exploration reaches every rank


def test_tournament_selection_favours_better_programs() -> None:
    size, draws = 10, 5_000
    config = DatabaseConfig(
        num_islands=1, selection="tournament", exploration_ratio=0.0, num_inspirations=0
    )
    counts = _parent_rank_counts(_ranked_island(config, size), draws, size)
    # Best of 3 uniform draws: P(rank 0) = 1 - 0.9**3 = 0.271.
    assert counts[0] / draws == pytest.approx(0.271, abs=0.03)
    assert counts[0] > counts[5] > counts[9]


def test_uniform_selection_is_flat() -> None:
    size, draws = 10, 10_000
    config = DatabaseConfig(num_islands=1, selection="uniform", num_inspirations=0)
    counts = _parent_rank_counts(_ranked_island(config, size), draws, size)
    assert all(counts[r] / draws == pytest.approx(0.1, abs=0.02) for r in range(size))


def _shares(config: DatabaseConfig, size: int, draws: int) -> np.ndarray:
    counts = _parent_rank_counts(_ranked_island(config, size), draws, size)
    return np.array([counts[r] for r in range(size)]) / draws


def test_softmax_selection_follows_its_weights() -> None:
    size, temperature = 10, 0.5
    config = DatabaseConfig(
        num_islands=1, selection="fitness", softmax_temperature=temperature, num_inspirations=0
    )
    fitness = np.arange(size - 1, -1, -1, dtype=float)  # rank r has fitness size-1-r
    weights = np.exp((fitness - fitness.max()) / (fitness.max() - fitness.min()) / temperature)
    shares = _shares(config, size, 20_000)
    assert shares == pytest.approx(weights / weights.sum(), abs=0.015)


def test_softmax_and_weighted_only_weigh_the_window() -> None:
    for selection in ("fitness", "weighted"):
        config = DatabaseConfig(
            num_islands=1, selection=selection, selection_window=3, num_inspirations=0
        )
        shares = _shares(config, 10, 3_000)
        assert shares[3:].sum() == 0 and shares[:2].min() > 0


def test_weighted_rule_is_shinka_evolves_formula() -> None:
    scores = np.array([1.0, 2.0, 3.0, 10.0])
    children = np.array([0.0, 1.0, 0.0, 3.0])
    median = 2.5
    mad = np.median(np.abs(scores - median))
    expected = 1 / (1 + np.exp(-10.0 * (scores - median) / mad)) / (1 + children)
    assert weighted_rule(scores, children, 10.0) == pytest.approx(expected)
    flat = weighted_rule(np.ones(3), np.zeros(3), 10.0)
    assert flat == pytest.approx([0.5, 0.5, 0.5])  # zero spread: every sigmoid at its middle


def test_weighted_selection_turns_away_from_parents_with_many_children() -> None:
    config = DatabaseConfig(num_islands=1, selection="weighted", num_inspirations=0)
    db = _ranked_island(config, 6)
    before = sum(db.sample(0).parent.id == "p5" for _ in range(2_000))
    best = db.get("p5")
    for i in range(20):  # failed children: they join no valid pool, but they count
        db.add(child_of(best, f"fail{i}", None, island=0))
    after = sum(db.sample(0).parent.id == "p5" for _ in range(2_000))
    assert after < before / 5


def test_mix_draws_each_strategy_by_its_share() -> None:
    size, draws = 10, 20_000
    mix = DatabaseConfig(
        num_islands=1,
        selection="mix",
        selection_mix={"rank": 1.0, "uniform": 3.0},
        exploration_ratio=0.0,
        num_inspirations=0,
    )
    expected = [0.25 * expected_rank_share(size, 1.0, r) + 0.75 / size for r in range(size)]
    assert _shares(mix, size, draws) == pytest.approx(expected, abs=0.015)


@pytest.mark.parametrize("selection", ["rank", "uniform", "tournament", "fitness", "weighted"])
def test_every_strategy_proposes_repairs_when_nothing_is_valid(selection: str) -> None:
    db = PopulationDatabase(DatabaseConfig(num_islands=1, selection=selection), seed=3)
    seed = make_program("seed", None, status=Status.ERROR)
    db.add(seed)
    for i, status in enumerate([Status.INVALID, Status.TIMEOUT, Status.OOM]):
        db.add(child_of(seed, f"f{i}", None, island=0, status=status))
    parents = {db.sample(0).parent.id for _ in range(200)}
    assert parents <= {"seed", "f0", "f1", "f2"} and "f0" in parents
