"""`evolve bench`: arms x seeds at one evaluation budget, the best-of-N
baseline, medians with bootstrap intervals, and results any evolve command reads."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evolve.analysis.run import Run
from evolve.bench.arms import BEST_OF_N, parse_arm
from evolve.bench.stats import best_so_far, first_reaching, median_interval
from evolve.cli.main import main
from evolve.config import load_problem
from evolve.config.overrides import apply_overlay, load_as_run
from evolve.database import DatabaseConfig, PopulationDatabase
from evolve.errors import ConfigError, UsageError
from tests.database.builders import child_of, make_program
from tests.problem_factory import write_problem

# -- statistics -----------------------------------------------------------------------


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=12))
def test_the_interval_holds_the_median_and_is_reproducible(values: list[float]) -> None:
    found = median_interval(values, resamples=300, seed=1)
    assert found.low <= found.median <= found.high
    assert min(values) <= found.low and found.high <= max(values)
    assert median_interval(values, resamples=300, seed=1) == found


def test_one_run_has_no_spread_and_none_has_no_median() -> None:
    one = median_interval([0.5, math.nan])
    assert (one.median, one.low, one.high) == (0.5, 0.5, 0.5)
    assert math.isnan(median_interval([]).median)


@given(st.lists(st.one_of(st.none(), st.floats(-10, 10)), max_size=30), st.booleans())
def test_best_so_far_only_improves(scores: list[float | None], maximize: bool) -> None:
    curve = best_so_far(scores, maximize)
    known = [v for v in curve if not math.isnan(v)]
    assert known == sorted(known, reverse=not maximize)
    numbers = [s for s in scores if s is not None]
    if numbers:
        assert curve[-1] == (max(numbers) if maximize else min(numbers))


def test_evaluations_to_a_threshold() -> None:
    assert first_reaching([0.1, 0.4, 0.7], 0.5, maximize=True) == 3
    assert first_reaching([5.0, 2.0], 3.0, maximize=False) == 2
    assert first_reaching([0.1], 0.5, maximize=True) is None


# -- arms and overlays ----------------------------------------------------------------


def test_arms_are_built_in_or_overlay_files(tmp_path: Path) -> None:
    assert parse_arm("best-of-n") is BEST_OF_N
    assert parse_arm("novelty").overlay == {"novelty": {"enabled": True}}
    file = tmp_path / "wide.toml"
    file.write_text("[database]\nnum_islands = 8\n")
    assert parse_arm(f"wide={file}").overlay == {"database": {"num_islands": 8}}
    with pytest.raises(UsageError, match="no such built-in arm"):
        parse_arm("prompts")
    with pytest.raises(UsageError, match="cannot read"):
        parse_arm(f"x={tmp_path / 'missing.toml'}")
    (tmp_path / "bad.toml").write_text("[database\n")
    with pytest.raises(UsageError, match="not valid TOML"):
        parse_arm(f"x={tmp_path / 'bad.toml'}")


def test_an_overlay_sets_search_tables_only_and_is_checked(tmp_path: Path) -> None:
    problem = load_problem(write_problem(tmp_path / "p"))
    wider = apply_overlay(problem, {"database": {"num_islands": 7}}, "arm wide")
    assert wider.spec.database.num_islands == 7
    assert wider.spec.database.migration_interval == problem.spec.database.migration_interval
    with pytest.raises(UsageError, match="sets only database, prompt, llm, novelty, meta, judge"):
        apply_overlay(problem, {"objective": {"metric": "other"}}, "arm x")
    with pytest.raises(ConfigError, match=r"arm typo.*num_islandz"):
        apply_overlay(problem, {"database": {"num_islandz": 2}}, "arm typo")


def test_seed_selection_always_picks_the_seed() -> None:
    db = PopulationDatabase(DatabaseConfig(num_islands=1, selection="seed"), seed=0)
    seed = make_program("p0", 0.1)
    db.add(seed)
    for i in range(1, 6):
        db.add(child_of(seed, f"p{i}", 0.1 * i + 1.0, island=0))
    assert {db.sample().parent.id for _ in range(50)} == {"p0"}


# -- end to end -----------------------------------------------------------------------


def test_bench_runs_every_arm_and_seed_and_prints_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = write_problem(tmp_path / "tiny")
    wide = tmp_path / "wide.toml"
    wide.write_text("[database]\nnum_islands = 3\n")
    out = tmp_path / "bench"
    arms = ["--arm", "evolve", "--arm", "best-of-n", "--arm", f"wide={wide}"]
    budget = ["--seeds", "2", "--evaluations", "4", "--threshold", "-6.5"]
    code = main(["bench", str(problem), *arms, *budget, "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    for arm in ("evolve", "best-of-n", "wide"):
        assert any(line.startswith(arm) for line in printed.splitlines()), printed
    assert "95% interval" in printed
    document = json.loads((out / "bench.json").read_text())
    assert [(r["arm"], r["seed"]) for r in document["runs"]] == [
        (arm, seed) for arm in ("evolve", "best-of-n", "wide") for seed in (0, 1)
    ]
    for run in document["runs"]:
        assert run["evaluations"] == 4 and len(run["curve"]) == 5  # the seed, then 4
        assert run["best"] == max(v for v in run["curve"] if v == v)
    assert (out / "bench.png").stat().st_size > 0 and (out / "bench.txt").is_file()
    # every run is an ordinary run directory; best-of-n's children are all the seed's
    baseline = Run.open(out / "best-of-n" / "seed-0").programs
    assert set(baseline["parent_id"].dropna()) == {baseline.index[0]}
    settings = json.loads((out / "wide" / "seed-1" / "run.json").read_text())
    assert settings["overlay"] == {"database": {"num_islands": 3}}
    assert load_as_run(problem, settings).spec.database.num_islands == 3  # resume, verify


def test_a_bad_arm_fails_before_any_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    problem = write_problem(tmp_path / "tiny")
    typo = tmp_path / "typo.toml"
    typo.write_text("[database]\nnum_islandz = 3\n")
    out = tmp_path / "bench"
    code = main(["bench", str(problem), "--arm", f"typo={typo}", "--out", str(out)])
    assert code == 2
    assert "num_islandz" in capsys.readouterr().err
    assert not out.exists()
