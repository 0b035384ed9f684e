"""Island stagnation in a run: the events reach the run store, `evolve show`
counts them, and a resume continues with the spawned islands."""

from __future__ import annotations

import json

import pytest

from evolve.analysis.summary import format_summary, run_summary
from evolve.engine import RunLimits
from evolve.engine.branch import branch_run
from evolve.engine.runner import RunOptions, resume_run, start_run
from evolve.records import EventKind
from evolve.store import RunStore
from tests.problem_factory import TOML, write_problem

pytestmark = pytest.mark.timeout(300)

STAGNANT = TOML + (
    "\n[database]\nnum_islands = 2\nstagnation_window = 2\n"
    'stagnation_action = "spawn"\nmax_islands = 4\n'
)


def events_of(run_dir, kind: str) -> list[dict]:
    rows = RunStore.open(run_dir).read_table("events").to_pylist()
    return [json.loads(e["payload"]) for e in rows if e["kind"] == kind]


def test_stagnant_islands_spawn_up_to_the_cap_and_a_resume_keeps_them(tmp_path):
    problem = write_problem(tmp_path / "tiny", STAGNANT)
    run_dir = tmp_path / "run"
    options = RunOptions(sandbox="process", deterministic=True, seed=1, concurrency=1)
    start_run(problem, run_dir, options, RunLimits(evaluations=24, concurrency=1, ordered=True))
    stagnated = events_of(run_dir, EventKind.ISLAND_STAGNATED)
    spawned = events_of(run_dir, EventKind.ISLAND_SPAWNED)
    assert stagnated, "a window of 2 children must find a stagnant island in 24"
    assert [e["island"] for e in spawned] == list(range(2, 2 + len(spawned)))
    assert 1 <= len(spawned) <= 2  # max_islands = 4
    actions = {e["action"] for e in stagnated}
    assert actions <= {"spawn", "reseed", "none"}
    summary = run_summary(run_dir)
    assert summary["stagnation"]["stagnated"] == len(stagnated)
    assert summary["stagnation"]["spawned"] == len(spawned)
    assert "stagnant" in format_summary(summary)
    resume_run(run_dir, RunLimits(evaluations=12, concurrency=1, ordered=True))
    after = events_of(run_dir, EventKind.ISLAND_SPAWNED)
    assert after[: len(spawned)] == spawned
    islands = {p["island"] for p in RunStore.open(run_dir).read_table("programs").to_pylist()}
    assert max(islands) < 4


def test_a_branch_places_programs_born_on_spawned_islands(tmp_path):
    problem = write_problem(tmp_path / "tiny", STAGNANT)
    run_dir = tmp_path / "run"
    options = RunOptions(sandbox="process", deterministic=True, seed=1, concurrency=1)
    start_run(problem, run_dir, options, RunLimits(evaluations=24, concurrency=1, ordered=True))
    rows = RunStore.open(run_dir).read_table("programs").to_pylist()
    spawned_born = [r for r in rows if r["island"] >= 2]
    if not spawned_born:
        pytest.skip("no child was born on a spawned island in this run")
    last = max(r["iteration"] for r in rows)
    out = tmp_path / "branch"
    branch_run(run_dir, out, RunLimits(evaluations=2, concurrency=1), checkpoint=last)
    got = RunStore.open(out).read_table("programs").to_pylist()
    assert {r["id"] for r in spawned_born} <= {r["id"] for r in got}
