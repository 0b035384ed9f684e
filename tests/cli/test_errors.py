"""What the CLI does with an error: a user's mistake is one line naming the fix
(exit 2); anything else is a bug and keeps its traceback (exit 70)."""

from __future__ import annotations

from pathlib import Path

import pytest

import evolve.cli.inspect
from evolve.cli.main import BUG_EXIT_CODE, USER_ERROR_EXIT_CODE, main
from evolve.errors import ConfigError, EvolveError, SeedFailed, StoreError, UsageError
from evolve.mutation.llm import LLMFatalError
from tests.problem_factory import write_problem


def test_a_missing_run_directory_is_one_line_naming_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", str(tmp_path / "nope")]) == USER_ERROR_EXIT_CODE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("evolve: error: ")
    assert "nope" in err and "not a run directory" in err and "Traceback" not in err


def test_an_out_of_range_argument_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = write_problem(tmp_path / "problem")
    code = main(["run", str(problem), "--iterations", "-1", "--out", str(tmp_path / "run")])
    assert code == USER_ERROR_EXIT_CODE
    err = capsys.readouterr().err
    assert "--iterations must be >= 0, got -1" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_a_program_file_that_is_not_there_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = write_problem(tmp_path / "problem")
    missing = tmp_path / "missing.py"
    assert main(["eval", str(problem), "--program", str(missing)]) == USER_ERROR_EXIT_CODE
    err = capsys.readouterr().err
    assert str(missing) in err and "--program" in err and "Traceback" not in err


@pytest.mark.parametrize("bug", [ZeroDivisionError, ValueError, KeyError, RuntimeError])
def test_an_internal_error_keeps_its_traceback_and_asks_for_a_report(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    bug: type[Exception],
) -> None:
    # A bare ValueError from inside evolve is a bug, not the user's mistake.
    def broken(run_dir: Path, top: int = 5) -> dict[str, object]:
        raise bug("an invariant broke")

    monkeypatch.setattr(evolve.cli.inspect, "run_summary", broken)
    assert main(["show", str(tmp_path)]) == BUG_EXIT_CODE
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "an invariant broke" in err
    assert "internal error" in err and "report" in err and "evolve show" in err


@pytest.mark.parametrize(
    "error", [ConfigError, StoreError, SeedFailed, UsageError, LLMFatalError], ids=str
)
def test_every_user_facing_error_shares_one_root(error: type[Exception]) -> None:
    assert issubclass(error, EvolveError)
