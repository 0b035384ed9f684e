"""Human review and proposals: new bests await a decision, decisions keep who,
when and why, a hand-written child is evaluated like any other, and a run is
written by one process at a time."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evolve.analysis.review import approved_ids, new_bests, review_items
from evolve.cli.main import USER_ERROR_EXIT_CODE, main
from evolve.errors import StoreError
from evolve.store import RunStore
from evolve.store.reviews import REVIEWS_FILE
from tests.finished_runs import copy_of, finished_run
from tests.problem_factory import SEED


@pytest.fixture(scope="module")
def module_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return finished_run(tmp_path_factory.mktemp("governance"), seed=7, evaluations=12)


@pytest.fixture
def run_dir(module_run: Path, tmp_path: Path) -> Path:
    return copy_of(module_run, tmp_path / "run")


def programs(run_dir: Path) -> list[dict]:
    return RunStore.open(run_dir).read_table("programs").to_pylist()


def test_new_bests_are_those_that_beat_everything_before_them() -> None:
    rows = [
        {"id": "a", "fitness": 1.0, "duplicate_of": None},
        {"id": "b", "fitness": 0.5, "duplicate_of": None},
        {"id": "c", "fitness": None, "duplicate_of": None},
        {"id": "d", "fitness": 2.0, "duplicate_of": "a"},
        {"id": "e", "fitness": 1.5, "duplicate_of": None},
        {"id": "f", "fitness": 1.5, "duplicate_of": None},
    ]
    assert [r["id"] for r in new_bests(rows)] == ["a", "e"]


def test_review_lists_new_bests_until_each_is_decided(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bests = [r["id"] for r in new_bests(programs(run_dir))]
    assert bests and [i["id"] for i in review_items(run_dir)] == bests
    assert main(["review", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert all(f"== {pid}" in out for pid in bests) and "awaiting a decision" in out
    first, *rest = bests
    note = "checked the diff by hand"
    assert main(["approve", str(run_dir), first, "--note", note, "--by", "ada"]) == 0
    assert f"{first} approved by ada: {note}" in capsys.readouterr().out
    if rest:
        assert main(["reject", str(run_dir), rest[0], "--note", "overfits"]) == 0
    assert [i["id"] for i in review_items(run_dir)] == bests[1 + bool(rest) :]
    decided = review_items(run_dir, include_decided=True)
    assert decided[0]["decision"] == "approved" and decided[0]["decided_by"] == "ada"
    assert approved_ids(run_dir) == [first]
    line = json.loads((run_dir / REVIEWS_FILE).read_text().splitlines()[0])
    assert line["program_id"] == first and line["note"] == note and line["time"] > 0
    # a later decision replaces an earlier one; both stay in the file
    assert main(["reject", str(run_dir), first, "--note", "found a bug"]) == 0
    assert approved_ids(run_dir) == []
    assert len((run_dir / REVIEWS_FILE).read_text().splitlines()) == 2 + bool(rest)


def test_bad_decisions_are_refused(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["approve", str(run_dir), "p999999", "--note", "x"]) == USER_ERROR_EXIT_CODE
    assert "has no program 'p999999'" in capsys.readouterr().err
    assert main(["approve", str(run_dir), "p000000", "--note", "  "]) == USER_ERROR_EXIT_CODE
    assert "needs --note TEXT" in capsys.readouterr().err
    assert not (run_dir / REVIEWS_FILE).exists()
    (run_dir / REVIEWS_FILE).write_text('{"program_id": "p000000", "decision": "maybe"}\n')
    assert main(["review", str(run_dir)]) == USER_ERROR_EXIT_CODE
    assert f"{run_dir / REVIEWS_FILE}:1: not a review decision" in capsys.readouterr().err


def _hand_written(value: str) -> str:
    return SEED.replace("return x * 1.5", f"return {value}")


def test_a_hand_written_child_is_evaluated_and_recorded_like_any_other(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = programs(run_dir)
    parent = before[0]["id"]  # the seed
    path = tmp_path / "mine.py"
    path.write_text(_hand_written("10.0"))  # the tiny problem's optimum
    assert main(["propose", str(run_dir), "--parent", parent, "--file", str(path)]) == 0
    out = capsys.readouterr().out
    after = programs(run_dir)
    assert len(after) == len(before) + 1
    child = after[-1]
    assert (child["model"], child["edit_kind"], child["parent_ids"]) == ("human", "human", [parent])
    assert child["score"] == 0.0 and f"{child['id']}: ok, score -0 (parent {parent})" in out
    assert child["iteration"] == max(r["iteration"] for r in before) + 1
    store = RunStore.open(run_dir)
    assert store.check_chain().ok
    assert store.get_program(child["id"]).code == path.read_text()
    best_before = max(r["fitness"] for r in before if r["fitness"] is not None)
    awaiting = {i["id"] for i in review_items(run_dir)}
    assert (child["id"] in awaiting) == (child["fitness"] > best_before)  # a new best: review it
    # the run goes on after it, with its counters
    assert main(["resume", str(run_dir), "--iterations", "2"]) == 0
    later = [r for r in programs(run_dir) if r["iteration"] > child["iteration"]]
    assert len([r for r in later if r["duplicate_of"] is None]) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x = 1\n", "no EVOLVE-BLOCK markers"),
        (_hand_written("3.0").replace("import math", "import os"), "outside the EVOLVE-BLOCK"),
        (SEED, "is program p000000 again"),
    ],
)
def test_bad_proposals_are_refused_and_change_nothing(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    before = programs(run_dir)
    path = tmp_path / "bad.py"
    path.write_text(text)
    args = ["propose", str(run_dir), "--parent", "p000000", "--file", str(path)]
    assert main(args) == USER_ERROR_EXIT_CODE
    assert expected in capsys.readouterr().err
    assert programs(run_dir) == before


def test_an_unknown_parent_is_refused(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mine.py"
    path.write_text(_hand_written("4.0"))
    args = ["propose", str(run_dir), "--parent", "nope", "--file", str(path)]
    assert main(args) == USER_ERROR_EXIT_CODE
    assert "has no program 'nope' to be the parent" in capsys.readouterr().err


def test_a_second_writer_is_refused_while_the_first_holds_the_run(run_dir: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from evolve.store import RunStore
                store = RunStore.open({str(run_dir)!r}, repair=True)
                print("holding", flush=True)
                time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with pytest.raises(StoreError, match=rf"another evolve process \(pid {holder.pid}\)"):
            RunStore.open(run_dir, repair=True)
        RunStore.open(run_dir).read_table("programs")  # readers are never blocked
    finally:
        holder.kill()
        holder.wait()
    RunStore.open(run_dir, repair=True).close()  # released when its holder died


def test_export_approved_writes_only_what_was_approved(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "approved"
    assert main(["export", str(run_dir), "--approved", "-o", str(out)]) == USER_ERROR_EXIT_CODE
    assert "no program is approved" in capsys.readouterr().err
    bests = [r["id"] for r in new_bests(programs(run_dir))]
    ids = [r["id"] for r in programs(run_dir)]
    other = next(i for i in ids if i not in bests[:1])
    assert main(["approve", str(run_dir), bests[0], "--note", "ok"]) == 0
    assert main(["approve", str(run_dir), other, "--note", "ok"]) == 0
    assert main(["reject", str(run_dir), other, "--note", "changed my mind"]) == 0
    capsys.readouterr()
    assert main(["export", str(run_dir), "--approved", "-o", str(out)]) == 0
    assert "wrote 1 approved programs" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == [f"{bests[0]}.py"]
    assert (out / f"{bests[0]}.py").read_text() == RunStore.open(run_dir).get_program(bests[0]).code
