"""Records that cannot lie: a program is unscored until scored in one place, and
never changed field by field afterwards."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evolve.config import ObjectiveSpec
from evolve.database import DatabaseConfig, PopulationDatabase
from evolve.engine.scoring import as_duplicate, scored_program
from evolve.records import Program, Status
from evolve.store import RunStore
from sandboxes.job import EvalResult
from tests.problem_factory import write_problem

MAXIMIZE = ObjectiveSpec(metric="score")
MINIMIZE = ObjectiveSpec(metric="score", direction="minimize")


def child() -> Program:
    return Program(id="p000001", code="x = 1\n", parent_ids=("p000000",), iteration=1)


def test_a_new_program_has_no_status_until_it_is_scored() -> None:
    program = child()
    assert program.status is None and not program.scored
    assert program.score is None and program.fitness is None


def test_a_program_cannot_be_changed_field_by_field() -> None:
    program = child()
    with pytest.raises(dataclasses.FrozenInstanceError):
        program.status = Status.OK  # type: ignore[misc]


@given(
    value=st.floats(allow_nan=False, allow_infinity=False, width=64),
    minimize=st.booleans(),
)
def test_the_scored_record_takes_everything_from_the_result(value: float, minimize: bool) -> None:
    result = EvalResult(
        Status.OK,
        metrics={"score": value, "size": 3.0},
        artifacts={"stderr": "warn"},
        wall_time_s=0.25,
    )
    scored = scored_program(child(), result, MINIMIZE if minimize else MAXIMIZE)
    assert scored.status == Status.OK and scored.score == value
    assert scored.fitness == (-value if minimize else value)
    assert scored.metrics == {"score": value, "size": 3.0}
    assert scored.artifacts == {"stderr": "warn"} and scored.wall_time_s == 0.25
    assert (scored.id, scored.code, scored.code_hash) == (
        child().id,
        child().code,
        child().code_hash,
    )


@pytest.mark.parametrize(
    ("result", "status", "reason"),
    [
        (EvalResult(Status.TIMEOUT, reason="too slow"), Status.TIMEOUT, "too slow"),
        (EvalResult(Status.OK, metrics={"other": 1.0}), Status.INVALID, "no 'score' metric"),
        (EvalResult(Status.OK, metrics={"score": float("nan")}), Status.INVALID, "nan"),
    ],
)
def test_a_failed_or_invalid_result_has_no_score_and_says_why(
    result: EvalResult, status: Status, reason: str
) -> None:
    scored = scored_program(child(), result, MAXIMIZE)
    assert scored.status == status and scored.score is None and scored.fitness is None
    assert reason in scored.reason


def test_a_program_is_scored_once() -> None:
    scored = scored_program(child(), EvalResult(Status.OK, metrics={"score": 1.0}), MAXIMIZE)
    with pytest.raises(ValueError, match="already scored"):
        scored_program(scored, EvalResult(Status.OK, metrics={"score": 2.0}), MAXIMIZE)


def test_a_duplicate_reuses_the_original_result_and_names_it() -> None:
    original = scored_program(
        Program(id="p000002", code="x = 1\n"),
        EvalResult(Status.OK, metrics={"score": 4.0}),
        MAXIMIZE,
    )
    duplicate = as_duplicate(child(), original)
    assert duplicate.duplicate_of == "p000002"
    assert (duplicate.status, duplicate.score, duplicate.fitness) == (Status.OK, 4.0, 4.0)
    with pytest.raises(ValueError, match="cannot reuse"):
        as_duplicate(child(), child())  # an unscored original has no result to reuse


def test_an_unscored_program_is_refused_by_the_database_and_the_store(tmp_path) -> None:
    with pytest.raises(ValueError, match="not scored yet"):
        PopulationDatabase(DatabaseConfig(num_islands=1), seed=0).add(child())
    store = RunStore.create(tmp_path / "run", {}, write_problem(tmp_path / "problem"))
    with pytest.raises(ValueError, match="not scored yet"):
        store.append_program(child())
