"""The record hash chain: a real run's chain holds across a resume; an edited,
deleted or reordered record, or records cut off the end, are named."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from evolve.engine.runner import resume_run
from evolve.engine.state import RunLimits
from evolve.store import SCHEMAS, RunStore
from evolve.store.chain import record_hash, verify_chain
from tests.finished_runs import copy_of, finished_run


@pytest.fixture(scope="module")
def module_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("chain")
    finished_run(root, seed=2, evaluations=6)
    resume_run(root / "run", RunLimits(evaluations=4, concurrency=2))
    return root / "run"


@pytest.fixture
def run_dir(module_run: Path, tmp_path: Path) -> Path:
    return copy_of(module_run, tmp_path / "run")


def rewrite_programs(run_dir: Path, edit) -> None:
    """Rewrite the programs files as a tool writing valid Parquet would:
    fresh page checksums, the schema kept; ``edit`` maps the rows of each file."""
    for path in sorted((run_dir / "programs").glob("*.parquet")):
        rows = pq.read_table(path, schema=SCHEMAS["programs"]).to_pylist()
        table = pa.Table.from_pylist(edit(rows), schema=SCHEMAS["programs"])
        pq.write_table(table, path, write_page_checksum=True)


def test_a_run_and_its_resume_form_one_chain(module_run: Path) -> None:
    store = RunStore.open(module_run)
    report = store.check_chain()
    rows = store.read_table("programs").to_pylist()
    assert report.ok, report.problem
    assert report.checked == len(rows) >= 11 and report.unhashed == 0
    checkpoint = json.loads((module_run / "checkpoint.json").read_text())
    assert checkpoint["chain_head"] == rows[-1]["record_hash"]
    assert len({r["record_hash"] for r in rows}) == len(rows)
    assert store.get_program(rows[3]["id"]).record_hash == rows[3]["record_hash"]


def test_a_raised_score_is_named(run_dir: Path) -> None:
    rows = RunStore.open(run_dir).read_table("programs").to_pylist()
    victim = rows[4]["id"]

    def raise_score(file_rows: list[dict]) -> list[dict]:
        for row in file_rows:
            if row["id"] == victim:
                row["score"] = (row["score"] or 0.0) + 1.0
                row["fitness"] = (row["fitness"] or 0.0) + 1.0
        return file_rows

    rewrite_programs(run_dir, raise_score)
    report = RunStore.open(run_dir).check_chain()
    assert not report.ok and report.broken_at == victim
    assert victim in report.problem and "does not match its hash" in report.problem


def test_a_deleted_record_is_named_at_the_next_one(run_dir: Path) -> None:
    rows = RunStore.open(run_dir).read_table("programs").to_pylist()
    victim, after = rows[5]["id"], rows[6]["id"]
    rewrite_programs(run_dir, lambda file_rows: [r for r in file_rows if r["id"] != victim])
    report = RunStore.open(run_dir).check_chain()
    assert report.broken_at == after


def test_records_cut_off_the_end_are_found_by_the_checkpoints_head(run_dir: Path) -> None:
    rows = RunStore.open(run_dir).read_table("programs").to_pylist()
    last = rows[-1]["id"]
    rewrite_programs(run_dir, lambda file_rows: [r for r in file_rows if r["id"] != last])
    report = RunStore.open(run_dir).check_chain()
    assert report.broken_at is None and "removed from the end" in report.problem


def test_a_rehashed_record_still_breaks_its_children(run_dir: Path) -> None:
    """Recomputing the edited record's own hash is not enough: the next record
    and its children chain to the old one."""
    rows = RunStore.open(run_dir).read_table("programs").to_pylist()
    victim = rows[2]
    previous = rows[1]["record_hash"]
    by_id = {r["id"]: r["record_hash"] for r in rows}

    def forge(file_rows: list[dict]) -> list[dict]:
        for row in file_rows:
            if row["id"] == victim["id"]:
                row["score"] = 99.0
                parents = [by_id.get(p, "") for p in row["parent_ids"] or ()]
                row["record_hash"] = record_hash(row, previous, parents)
        return file_rows

    rewrite_programs(run_dir, forge)
    report = RunStore.open(run_dir).check_chain()
    assert report.broken_at == rows[3]["id"]


_row = st.fixed_dictionaries(
    {
        "score": st.one_of(st.none(), st.floats(allow_nan=False)),
        "status": st.sampled_from(["ok", "error", "timeout"]),
        "metrics": st.dictionaries(st.text(max_size=4), st.floats(allow_nan=False)).map(json.dumps),
        "reason": st.text(max_size=20),
    }
)


@given(st.lists(_row, min_size=1, max_size=8), st.data())
def test_any_single_field_change_is_found(rows: list[dict], data: st.DataObject) -> None:
    chained, previous = [], ""
    for i, fields in enumerate(rows):
        row = {"id": f"p{i}", "parent_ids": [f"p{i - 1}"] if i else [], **fields}
        parents = [chained[-1]["record_hash"]] if i else []
        row["record_hash"] = previous = record_hash(row, previous, parents)
        chained.append(row)
    assert verify_chain(chained, previous).ok
    index = data.draw(st.integers(0, len(chained) - 1))
    field = data.draw(st.sampled_from(["score", "status", "metrics", "reason"]))
    changed = data.draw(st.text(min_size=1, max_size=5))
    assume(chained[index][field] != changed)  # a change, not the same value again
    tampered = [dict(r) for r in chained]
    tampered[index][field] = changed
    assert verify_chain(tampered, previous).broken_at == f"p{index}"
