"""What is read back from a run directory is what was written, or an error naming
the file: a program's text must hash to its ``code_hash``, and every Parquet page
carries a checksum that is verified on read, so an edited text or a flipped byte
in any table is reported rather than read as a valid record."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import evolve
from evolve import store as store_module
from evolve.cli.main import USER_ERROR_EXIT_CODE, main
from evolve.engine.runner import RunOptions, start_run
from evolve.engine.state import RunLimits
from evolve.errors import StoreError
from evolve.records import Program, Status, code_hash
from evolve.store import TABLES, RunStore
from tests.problem_factory import write_problem

FIXTURE = Path(__file__).parent / "fixtures" / "schema_v1"
FIX = "restore it from a backup"


def committed_run(tmp_path: Path, programs: int = 3, commits: int = 1) -> Path:
    """A run directory with rows in every table, over ``commits`` commits."""
    store = RunStore.create(tmp_path / "run", {"problem": "t"}, write_problem(tmp_path / "prob"))
    for c in range(commits):
        for i in range(c * programs, (c + 1) * programs):
            program = Program(
                id=f"p{i:06d}",
                code=f"x = {i}\n" * 20,
                status=Status.OK,
                score=float(i),
                fitness=float(i),
                wall_time_s=0.25,
            )
            store.append_program(program)
            store.append_evaluation(program, peak_memory_mb=10.0, stage_reached=1)
            store.append_llm_call(
                {"id": f"c{i}", "model": "m", "prompt_tokens": 3, "completion_tokens": 4}
            )
            store.append_event("migration", i, {"from": 0, "to": 1})
        store.commit({"controller": {}})
    return tmp_path / "run"


def edit_code(run_dir: Path, program_id: str, text: str = "print('not the scored one')\n") -> Path:
    """Replace the stored text of ``program_id`` with ``text``, keeping its hash and
    score: a well-formed Parquet file (fresh page checksums), a lying record."""
    store = RunStore.open(run_dir)
    row = next(r for r in store.read_table("programs").to_pylist() if r["id"] == program_id)
    for path in store.manifest.paths(run_dir, "code"):
        table = pq.read_table(path)
        rows = table.to_pylist()
        if any(r["code_hash"] == row["code_hash"] for r in rows):
            for r in rows:
                if r["code_hash"] == row["code_hash"]:
                    r["code"] = text
            pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)
            return path
    raise AssertionError(f"no code row for {program_id}")


def flip_a_byte(path: Path) -> None:
    """Flip one bit inside the page data of the file's last column chunk (its
    last byte is page payload, not a header or the footer)."""
    column = pq.read_metadata(path).row_group(0).column(pq.read_metadata(path).num_columns - 1)
    start = column.dictionary_page_offset or column.data_page_offset
    data = bytearray(path.read_bytes())
    data[start + column.total_compressed_size - 1] ^= 0x01
    path.write_bytes(bytes(data))


# -- an edited program text ------------------------------------------------------------


def test_get_program_refuses_an_edited_text_naming_file_id_and_fix(tmp_path: Path) -> None:
    run_dir = committed_run(tmp_path)
    path = edit_code(run_dir, "p000001")
    store = RunStore.open(run_dir)
    with pytest.raises(StoreError) as caught:
        store.get_program("p000001")
    message = str(caught.value)
    assert str(path) in message and "p000001" in message and FIX in message
    # The other programs of the same file are intact and still read.
    assert store.get_program("p000002").code == "x = 2\n" * 20


def test_load_programs_refuses_an_edited_text(tmp_path: Path) -> None:
    run_dir = committed_run(tmp_path)
    path = edit_code(run_dir, "p000000")
    with pytest.raises(StoreError, match="p000000") as caught:
        RunStore.open(run_dir).load_programs()
    assert str(path) in str(caught.value) and FIX in str(caught.value)


def test_run_code_refuses_an_edited_text(tmp_path: Path) -> None:
    run_dir = committed_run(tmp_path)
    edit_code(run_dir, "p000002")
    run = evolve.Run.open(run_dir)
    with pytest.raises(StoreError, match=r"p000002.*does not match"):
        run.code("p000002")
    assert run.code("p000001") == "x = 1\n" * 20


def test_resume_refuses_an_edited_text_before_writing(tmp_path: Path) -> None:
    run_dir = committed_run(tmp_path)
    path = edit_code(run_dir, "p000001")
    before = (run_dir / "checkpoint.json").read_bytes()
    with pytest.raises(StoreError, match="p000001") as caught:
        RunStore.open(run_dir, repair=True)
    assert str(path) in str(caught.value) and FIX in str(caught.value)
    assert (run_dir / "checkpoint.json").read_bytes() == before


def test_a_program_whose_code_row_is_gone_is_a_store_error(tmp_path: Path) -> None:
    run_dir = committed_run(tmp_path)
    path = run_dir / "code" / "part-000001.parquet"
    table = pq.read_table(path)
    pq.write_table(table.slice(1), path)  # drops p000000's text
    with pytest.raises(StoreError, match=r"p000000"):
        RunStore.open(run_dir).get_program("p000000")
    with pytest.raises(StoreError, match=r"p000000"):
        RunStore.open(run_dir).load_programs()


def test_evolve_resume_of_a_real_run_with_an_edited_seed_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    start_run(
        write_problem(tmp_path / "problem"),
        run_dir,
        RunOptions(seed=1, deterministic=True),
        RunLimits(evaluations=4, concurrency=1),
    )
    seed = next(
        r["id"]
        for r in RunStore.open(run_dir).read_table("programs").to_pylist()
        if r["edit_kind"] == "seed"
    )
    path = edit_code(run_dir, seed, "def value():\n    return 10.0\n")
    capsys.readouterr()
    assert main(["resume", str(run_dir), "--iterations", "2"]) == USER_ERROR_EXIT_CODE
    err = capsys.readouterr().err
    assert str(path) in err and seed in err and FIX in err and "Traceback" not in err
    with pytest.raises(StoreError, match=seed):
        evolve.Run.open(run_dir).code(seed)


# -- a flipped byte in any table ---------------------------------------------------------


@pytest.mark.parametrize("table", TABLES)
def test_a_flipped_byte_in_any_table_is_reported_naming_the_file(
    tmp_path: Path, table: str
) -> None:
    run_dir = committed_run(tmp_path)
    path = run_dir / table / "part-000001.parquet"
    flip_a_byte(path)
    with pytest.raises(StoreError) as caught:
        RunStore.open(run_dir).read_table(table)
    assert str(path) in str(caught.value) and FIX in str(caught.value)
    with pytest.raises(StoreError, match=str(path)):  # and resume refuses the run
        RunStore.open(run_dir, repair=True)


def test_a_flipped_byte_in_a_code_page_is_reported_by_get_program(tmp_path: Path) -> None:
    run_dir = committed_run(tmp_path)
    path = run_dir / "code" / "part-000001.parquet"
    flip_a_byte(path)
    with pytest.raises(StoreError, match=str(path)):
        RunStore.open(run_dir).get_program("p000001")


def test_merged_files_carry_checksums_too(tmp_path: Path) -> None:
    run_dir = committed_run(tmp_path, programs=1, commits=store_module.COMPACT_AT)
    store = RunStore.open(run_dir)
    ((first, last),) = store.manifest.compacted_ranges("programs")
    merged = run_dir / "programs" / f"compact-{first:06d}-{last:06d}.parquet"
    assert store.read_table("programs").num_rows == store_module.COMPACT_AT
    flip_a_byte(merged)
    with pytest.raises(StoreError, match=str(merged)):
        RunStore.open(run_dir).read_table("programs")


def test_a_merge_does_not_launder_a_damaged_part(tmp_path: Path) -> None:
    # A part damaged before the merge that would rewrite it with fresh checksums.
    run_dir = committed_run(tmp_path, programs=1, commits=store_module.COMPACT_AT - 1)
    flip_a_byte(run_dir / "evaluations" / "part-000002.parquet")
    store = RunStore.open(run_dir, repair=False)
    store.append_event("stop", 0, {})
    store.append_evaluation(
        Program(id="p9", code="y = 1\n", status=Status.OK, wall_time_s=0.1), None, None
    )
    with pytest.raises(StoreError, match=r"part-000002\.parquet"):
        store.commit({})


# -- runs written before checksums -----------------------------------------------------


def test_a_v1_run_without_checksums_reads_verifies_and_resumes(tmp_path: Path) -> None:
    run_dir = shutil.copytree(FIXTURE, tmp_path / "run")
    store = RunStore.open(run_dir, repair=True)
    programs = store.load_programs()
    assert len(programs) == 40
    assert all(code_hash(p.code) == p.code_hash for p in programs.values())
    assert store.get_program("p000000").code == programs["p000000"].code
    for table in TABLES:
        store.read_table(table)
