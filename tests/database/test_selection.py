from __future__ import annotations

from collections import Counter
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evolve.database import DatabaseConfig, PopulationDatabase
from evolve.database.selection import expected_rank_share, power_law_rank
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
