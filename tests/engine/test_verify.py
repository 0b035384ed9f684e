"""`evolve verify`: a faithful run verifies and gets a certificate; an edited
record, a changed scorer, a result that no longer scores the same or a deleted
segment each fail with what is wrong named, and the run's records are untouched."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from evolve.cli.main import USER_ERROR_EXIT_CODE, main
from evolve.engine.runner import RunOptions, start_run
from evolve.engine.state import RunLimits
from evolve.engine.verify import _verdict, verify_run
from evolve.store import SCHEMAS, RunStore
from tests.finished_runs import copy_of, finished_run
from tests.problem_factory import write_problem


@pytest.fixture(scope="module")
def module_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return finished_run(tmp_path_factory.mktemp("verify"), seed=4, evaluations=8)


@pytest.fixture
def run_dir(module_run: Path, tmp_path: Path) -> Path:
    return copy_of(module_run, tmp_path / "run")


def records(run_dir: Path) -> dict[str, bytes]:
    """Every file of the run but the certificates verify writes."""
    return {
        str(p.relative_to(run_dir)): p.read_bytes()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file()
        and "verify" not in p.relative_to(run_dir).parts
        and not p.name.startswith("index.sqlite")
    }


def best_ids(run_dir: Path, k: int) -> list[str]:
    rows = [r for r in RunStore.open(run_dir).read_table("programs").to_pylist() if r["fitness"]]
    rows.sort(key=lambda r: (-r["fitness"], r["iteration"]))
    return [r["id"] for r in rows[:k]]


def test_a_faithful_run_verifies_and_gets_a_certificate(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = records(run_dir)
    assert main(["verify", str(run_dir), "--top", "2", "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    assert "every file as pinned" in out and "chain holds" in out
    assert out.count(" exact") == 2 and "verified: every check passed" in out
    best = best_ids(run_dir, 1)[0]
    certificate = json.loads((run_dir / "verify" / f"certificate-{best}.json").read_text())
    program = RunStore.open(run_dir).get_program(best)
    assert certificate["program"]["code"] == program.code
    assert certificate["program"]["record_hash"] == program.record_hash
    assert certificate["run"]["chain_ok"] and certificate["problem_as_pinned"]
    assert certificate["problem_files"] == RunStore.open(run_dir).settings["problem_files"]
    assert certificate["repeats"]["scores"] == [program.score, program.score]
    assert certificate["sandbox"] == {"kind": "process"}
    assert certificate["versions"]["numpy"] and certificate["versions"]["python"]
    assert records(run_dir) == before  # verify reads the run, never writes to it


def test_an_edited_score_breaks_the_chain_and_does_not_score_again(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = best_ids(run_dir, 1)[0]
    for path in (run_dir / "programs").glob("*.parquet"):
        rows = pq.read_table(path, schema=SCHEMAS["programs"]).to_pylist()
        for row in rows:
            if row["id"] == victim:
                row["score"] += 5.0
                row["fitness"] += 5.0
        table = pa.Table.from_pylist(rows, schema=SCHEMAS["programs"])
        pq.write_table(table, path, write_page_checksum=True)
    assert main(["verify", str(run_dir), "--top", "1", "--repeats", "1"]) == 1
    out = capsys.readouterr().out
    assert f"chain BROKEN: the record of {victim} does not match its hash" in out
    assert "mismatch" in out and "every repeat gives" in out
    assert "NOT verified" in out


def test_a_changed_scorer_is_named(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scorer = run_dir / "problem" / "scorer.py"
    scorer.write_text(scorer.read_text().replace("- 10.0", "- 11.0"))
    assert main(["verify", str(run_dir), "--top", "1", "--repeats", "1"]) == 1
    out = capsys.readouterr().out
    assert f"problem  NOT as pinned:\n  {scorer}: changed since the run began" in out
    assert "mismatch" in out  # and the best no longer scores what it did


def test_a_deleted_segment_is_a_clear_error(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = sorted((run_dir / "programs").glob("*.parquet"))[0]
    victim.unlink()
    assert main(["verify", str(run_dir)]) == USER_ERROR_EXIT_CODE
    assert str(victim) in capsys.readouterr().err


def test_bad_arguments_are_refused(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(run_dir), "--repeats", "0"]) == USER_ERROR_EXIT_CODE
    assert "--repeats >= 1" in capsys.readouterr().err


def test_a_noisy_scorer_is_judged_by_its_spread() -> None:
    # repeats agree with each other and the record: exact
    assert _verdict("ok", 1.0, ["ok", "ok"], [1.0, 1.0])[0] == "exact"
    # they agree with each other, not with the record: the record is wrong
    verdict, detail = _verdict("ok", 1.5, ["ok", "ok"], [1.0, 1.0])
    assert verdict == "mismatch" and "every repeat gives 1.0" in detail
    # noisy: the record within three deviations of the mean passes, far off fails
    assert _verdict("ok", 1.05, ["ok"] * 3, [1.0, 1.1, 0.9])[0] == "within noise"
    verdict, detail = _verdict("ok", 2.0, ["ok"] * 3, [1.0, 1.1, 0.9])
    assert verdict == "mismatch" and "deviations" in detail
    # a status that differs is a mismatch whatever the scores
    assert _verdict("ok", 1.0, ["ok", "timeout"], [1.0, None])[0] == "mismatch"


def test_docker_repeats_run_in_fresh_containers(
    run_dir: Path, docker_sandbox: object, capsys: pytest.CaptureFixture[str]
) -> None:
    found = verify_run(run_dir, top=1, repeats=2, sandbox="docker")
    assert found.ok, found
    certificate = json.loads(Path(found.certificate or "").read_text())
    assert certificate["sandbox"]["kind"] == "docker"
    assert certificate["sandbox"]["image_id"].startswith("sha256:")
    assert [r.verdict for r in found.rescores] == ["exact"]


HOLDOUT_SCORER = textwrap.dedent(
    """\
    import importlib.util

    def _value(program_path):
        spec = importlib.util.spec_from_file_location("candidate", program_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.value()

    def evaluate(program_path):
        return {"score": -abs(_value(program_path) - 10.0)}

    def evaluate_holdout(program_path):
        return {"score": 500.25 - abs(_value(program_path) - 10.0), "heldout_metric": 1.0}
    """
)


@pytest.fixture(scope="module")
def holdout_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("verify-holdout")
    start_run(
        write_problem(root / "problem", scorer=HOLDOUT_SCORER),
        root / "run",
        RunOptions(seed=4, deterministic=True),
        RunLimits(evaluations=8, concurrency=2),
    )
    return root / "run"


def test_verify_runs_the_held_out_scorer_once_per_program(holdout_run: Path) -> None:
    events = [e for e in RunStore.open(holdout_run).load_events() if e["kind"] == "holdout"]
    recorded = {e["payload"]["program_id"]: e["payload"]["score"] for e in events}
    found = verify_run(holdout_run, top=2, repeats=2, certificate=holdout_run.parent / "c.json")
    assert found.ok, found
    assert len(found.rescores) == 2
    for rescore in found.rescores:
        holdout = rescore.holdout
        assert holdout is not None and holdout.status == "ok", holdout
        assert rescore.recorded_score is not None
        assert holdout.score == 500.25 + rescore.recorded_score
        assert holdout.metrics == {"score": holdout.score, "heldout_metric": 1.0}
        assert holdout.recorded_score == recorded.get(rescore.program_id)
    best = found.rescores[0]
    assert best.holdout is not None and best.holdout.recorded_score == best.holdout.score
    certificate = json.loads((holdout_run.parent / "c.json").read_text())
    assert certificate["holdout"]["score"] == best.holdout.score
    assert certificate["holdout"]["recorded_score"] == best.holdout.score
    assert "holdout" not in certificate["repeats"]
    assert certificate["repeats"]["scores"] == [best.recorded_score] * 2


def test_verify_of_a_problem_without_a_held_out_scorer_runs_none(run_dir: Path) -> None:
    found = verify_run(run_dir, top=1, repeats=1)
    assert found.ok and [r.holdout for r in found.rescores] == [None]
    assert json.loads(Path(found.certificate or "").read_text())["holdout"] is None


def test_verify_prints_a_held_out_column(
    holdout_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = tmp_path / "c.json"
    assert (
        main(
            ["verify", str(holdout_run), "--top", "2", "--repeats", "1", "--certificate", str(cert)]
        )
        == 0
    )
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("program"))
    assert "held-out" in header.split()
    held_out = json.loads(cert.read_text())["holdout"]["score"]
    assert f"{held_out:.8g}" in out


def test_verify_prints_no_held_out_column_without_a_held_out_scorer(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", str(run_dir), "--top", "1", "--repeats", "1"]) == 0
    assert "held-out" not in capsys.readouterr().out
