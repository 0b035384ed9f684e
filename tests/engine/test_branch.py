"""`evolve branch`: a new run from a program or an iteration of an earlier run,
recording where it came from, with the original left byte for byte as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evolve.analysis.summary import format_summary, run_summary
from evolve.cli.main import USER_ERROR_EXIT_CODE, main
from evolve.engine.branch import branch_run
from evolve.engine.runner import resume_run
from evolve.engine.state import RunLimits
from evolve.store import RunStore
from tests.finished_runs import copy_of, finished_run


@pytest.fixture(scope="module")
def module_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return finished_run(tmp_path_factory.mktemp("branch"), seed=5, evaluations=10)


@pytest.fixture
def original(module_run: Path, tmp_path: Path) -> Path:
    return copy_of(module_run, tmp_path / "original")


def files(run_dir: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(run_dir)): p.read_bytes()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and not p.name.startswith("index.sqlite")
    }


def rows(run_dir: Path) -> list[dict]:
    return RunStore.open(run_dir).read_table("programs").to_pylist()


def test_a_branch_from_a_program_seeds_the_new_run_with_it(original: Path, tmp_path: Path) -> None:
    before = files(original)
    chosen = next(r for r in rows(original) if r["iteration"] == 6 and r["fitness"] is not None)
    out = tmp_path / "branch"
    outcome = branch_run(original, out, RunLimits(evaluations=4, concurrency=2), chosen["id"])
    assert files(original) == before  # the original is only read
    new = RunStore.open(out)
    seed = next(r for r in rows(out) if r["edit_kind"] == "seed")
    assert (
        new.get_program(seed["id"]).code == RunStore.open(original).get_program(chosen["id"]).code
    )
    assert seed["score"] == chosen["score"]  # scored again, as any seed is
    assert outcome.progress.evaluations_this_run == 4
    origin = new.settings["branched_from"]
    assert origin["program"] == chosen["id"] and origin["run"] == str(original.resolve())
    assert origin["record_hash"] == chosen["record_hash"]
    assert new.settings["problem_source"] == RunStore.open(original).settings["problem_source"]
    text = format_summary(run_summary(out))
    assert f"branched   from program {chosen['id']}" in text
    assert new.check_chain().ok


def test_a_branch_from_a_checkpoint_keeps_the_population_up_to_it(
    original: Path, tmp_path: Path
) -> None:
    before = files(original)
    out = tmp_path / "branch"
    branch_run(original, out, RunLimits(evaluations=3, concurrency=2), checkpoint=5)
    assert files(original) == before
    kept = [r for r in rows(original) if r["iteration"] <= 5]
    got = rows(out)
    fields = ("id", "iteration", "score", "status", "parent_ids", "code_hash")
    assert [{k: r[k] for k in fields} for r in got[: len(kept)]] == [
        {k: r[k] for k in fields} for r in kept
    ]
    later = got[len(kept) :]
    assert len([r for r in later if r["duplicate_of"] is None]) == 3
    assert min(r["iteration"] for r in later) == 6  # it goes on after the checkpoint
    known = {r["id"] for r in got}
    assert all(set(r["parent_ids"]) <= known for r in later)
    assert RunStore.open(out).settings["branched_from"]["checkpoint"] == 5
    assert "branched   from iteration 5" in format_summary(run_summary(out))
    assert RunStore.open(out).check_chain().ok
    # a branch is a run like any other: it resumes
    resume_run(out, RunLimits(evaluations=2, concurrency=2))
    assert len([r for r in rows(out) if r["iteration"] > 5 and r["duplicate_of"] is None]) == 5


def test_bad_branches_are_refused_and_touch_nothing(
    original: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = files(original)
    out = str(tmp_path / "new")
    assert main(["branch", str(original), "--program", "p999999", "--out", out]) == (
        USER_ERROR_EXIT_CODE
    )
    assert "has no program 'p999999'" in capsys.readouterr().err
    assert main(["branch", str(original), "--checkpoint", "999", "--out", out]) == (
        USER_ERROR_EXIT_CODE
    )
    assert "--checkpoint 999 is not one of them" in capsys.readouterr().err
    assert main(["branch", str(original), "--checkpoint", "2", "--out", str(original)]) == (
        USER_ERROR_EXIT_CODE
    )
    assert "not the run it branches from" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: exactly one of the two
        main(["branch", str(original), "--out", out])
    assert files(original) == before
    assert not Path(out).exists()


def test_the_cli_branch_prints_the_new_run(
    original: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli-branch"
    args = ["branch", str(original), "--checkpoint", "3", "--out", str(out), "--iterations", "2"]
    assert main(args) == 0
    assert f"run directory: {out}" in capsys.readouterr().out
    assert json.loads((out / "run.json").read_text())["branched_from"]["checkpoint"] == 3
