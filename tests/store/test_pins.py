"""Pinned problems: a resume refuses a run whose problem copy changed, naming each
file; an accepted change is recorded with its reason and shown; nothing of the
run is touched by a refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evolve.analysis.report import build_report
from evolve.analysis.run import Run
from evolve.analysis.summary import format_summary, run_summary
from evolve.cli.main import USER_ERROR_EXIT_CODE, main
from evolve.records import EventKind
from evolve.store import RunStore
from evolve.store.pins import FileChange, changes, pin_files, review
from tests.finished_runs import copy_of, finished_run
from tests.problem_factory import write_problem


@pytest.fixture(scope="module")
def module_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pinned")
    problem = write_problem(root / "problem")
    (problem / "data").mkdir()
    (problem / "data" / "points.csv").write_text("1,2\n3,4\n")
    return finished_run(root, seed=1, evaluations=2, concurrency=1, problem=problem)


@pytest.fixture
def run_dir(module_run: Path, tmp_path: Path) -> Path:
    return copy_of(module_run, tmp_path / "run")


def snapshot(run_dir: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(run_dir)): p.read_bytes()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and "problem" not in p.parts and not p.name.startswith("index.sqlite")
    }


def test_run_json_pins_every_problem_file(module_run: Path) -> None:
    pins = RunStore.open(module_run).settings["problem_files"]
    assert pins == pin_files(module_run / "problem")
    assert {"problem.toml", "initial.py", "scorer.py", "data/points.csv"} <= set(pins)
    assert all(len(digest) == 64 for digest in pins.values())


def test_a_changed_scorer_stops_the_resume_naming_it_and_touching_nothing(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scorer = run_dir / "problem" / "scorer.py"
    scorer.write_text(scorer.read_text() + "\n# tuned\n")
    (run_dir / "problem" / "data" / "points.csv").unlink()
    (run_dir / "problem" / "extra.py").write_text("x = 1\n")
    before = snapshot(run_dir)
    capsys.readouterr()
    assert main(["resume", str(run_dir), "--iterations", "1"]) == USER_ERROR_EXIT_CODE
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{scorer}: changed since the run began" in err
    assert f"{run_dir / 'problem' / 'data' / 'points.csv'}: removed" in err
    assert f"{run_dir / 'problem' / 'extra.py'}: added" in err
    assert f"evolve resume {run_dir} --accept-problem-change --reason TEXT" in err
    assert snapshot(run_dir) == before


def test_an_accepted_change_is_recorded_with_its_reason_and_shown(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scorer = run_dir / "problem" / "scorer.py"
    old = pin_files(run_dir / "problem")["scorer.py"]
    scorer.write_text(scorer.read_text() + "\n# tuned\n")
    reason = "fixed a typo in a comment"
    args = ["resume", str(run_dir), "--iterations", "1", "--accept-problem-change"]
    assert main([*args, "--reason", reason]) == 0
    events = [
        e for e in RunStore.open(run_dir).load_events() if e["kind"] == EventKind.PROBLEM_CHANGED
    ]
    assert len(events) == 1
    payload = events[0]["payload"]
    assert payload["reason"] == reason
    assert payload["changes"] == [
        {
            "path": "scorer.py",
            "kind": "changed",
            "old": old,
            "new": pin_files(scorer.parent)["scorer.py"],
        }
    ]
    summary = run_summary(run_dir)
    text = format_summary(summary)
    assert "problem changed" in text and "scorer.py (changed)" in text and reason in text
    run = Run.open(run_dir)
    assert run.problem_changes[["reason", "files"]].to_dict("records") == [
        {"reason": reason, "files": ["scorer.py (changed)"]}
    ]
    assert f"accepted: {reason}" in build_report(run)
    # The accepted files are the pins now: the next resume goes on without asking.
    assert main(["resume", str(run_dir), "--iterations", "1"]) == 0


def test_accepting_needs_a_reason_and_a_reason_needs_accepting(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["resume", str(run_dir), "--accept-problem-change"]) == USER_ERROR_EXIT_CODE
    assert "--reason TEXT" in capsys.readouterr().err
    assert main(["resume", str(run_dir), "--reason", "why"]) == USER_ERROR_EXIT_CODE
    assert "--accept-problem-change" in capsys.readouterr().err


def test_a_run_made_before_pins_is_pinned_at_its_first_resume(run_dir: Path) -> None:
    path = run_dir / "run.json"
    settings = json.loads(path.read_text())
    del settings["problem_files"]
    path.write_text(json.dumps(settings))
    assert main(["resume", str(run_dir), "--iterations", "1"]) == 0
    kinds = [e["kind"] for e in RunStore.open(run_dir).load_events()]
    assert kinds.count(EventKind.PROBLEM_PINNED) == 1
    scorer = run_dir / "problem" / "scorer.py"
    scorer.write_text(scorer.read_text() + "\n# later edit\n")
    assert main(["resume", str(run_dir), "--iterations", "1"]) == USER_ERROR_EXIT_CODE


_names = st.sampled_from(["a.py", "b.txt", "data/c.csv", "d/e/f.json"])
_digests = st.sampled_from(["1" * 64, "2" * 64, "3" * 64])


@given(st.dictionaries(_names, _digests, max_size=4), st.dictionaries(_names, _digests, max_size=4))
def test_changes_name_exactly_the_paths_that_differ(
    pinned: dict[str, str], now: dict[str, str]
) -> None:
    found = changes(pinned, now)
    assert {c.path for c in found} == {
        p for p in set(pinned) | set(now) if pinned.get(p) != now.get(p)
    }
    for change in found:
        assert isinstance(change, FileChange)
        assert change.kind == (
            "added"
            if change.path not in pinned
            else "removed"
            if change.path not in now
            else "changed"
        )


def test_review_leaves_an_unchanged_problem_alone(tmp_path: Path) -> None:
    folder = write_problem(tmp_path / "problem")
    settings = {"problem_files": pin_files(folder)}
    assert review(folder, settings, [], tmp_path, None) is None
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "scorer.cpython-311.pyc").write_bytes(b"\0")
    (folder / ".hidden").write_text("editor state")
    assert review(folder, settings, [], tmp_path, None) is None  # not part of the problem
