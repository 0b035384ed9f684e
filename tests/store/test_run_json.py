"""A run.json (or checkpoint.json) that is garbled or lacks a key is one
``StoreError`` naming the file, the key and the fix: through the CLI, one line
and exit 2, never a ``JSONDecodeError`` or ``KeyError`` traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evolve.cli.main import USER_ERROR_EXIT_CODE, main
from evolve.engine.runner import RunOptions, start_run
from evolve.engine.state import RunLimits
from evolve.errors import StoreError
from evolve.store import RunStore
from tests.problem_factory import write_problem

FIX = "restore it from a backup"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run (seed and two children), copied by each test that edits it."""
    root = tmp_path_factory.mktemp("finished")
    start_run(
        write_problem(root / "problem"),
        root / "run",
        RunOptions(seed=1, deterministic=True),
        RunLimits(evaluations=2, concurrency=1),
    )
    return root / "run"


@pytest.fixture
def run_dir(finished_run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(finished_run, tmp_path / "run"))


def edit_settings(run_dir: Path, drop: str, inside: str | None = None) -> None:
    path = run_dir / "run.json"
    settings = json.loads(path.read_text())
    del (settings[inside] if inside else settings)[drop]
    path.write_text(json.dumps(settings))


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("evolve: error: ")
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("text", ["{not json", '{"seed": 1,', "\xff\xfe", "[1, 2]", '"run"'])
@pytest.mark.parametrize("command", ["show", "resume"])
def test_a_garbled_run_json_is_one_line_naming_the_file(
    run_dir: Path, capsys: pytest.CaptureFixture[str], text: str, command: str
) -> None:
    (run_dir / "run.json").write_bytes(text.encode("latin-1"))
    capsys.readouterr()
    assert main([command, str(run_dir)]) == USER_ERROR_EXIT_CODE
    err = one_line_error(capsys)
    assert str(run_dir / "run.json") in err and FIX in err


@pytest.mark.parametrize("key", ["seed", "mutation", "sandbox", "deterministic"])
def test_resume_with_a_key_missing_from_run_json_names_file_and_key(
    run_dir: Path, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    edit_settings(run_dir, key)
    before = (run_dir / "checkpoint.json").read_bytes()
    capsys.readouterr()
    assert main(["resume", str(run_dir), "--iterations", "1"]) == USER_ERROR_EXIT_CODE
    err = one_line_error(capsys)
    assert str(run_dir / "run.json") in err and f"'{key}'" in err and FIX in err
    assert (run_dir / "checkpoint.json").read_bytes() == before  # nothing was run


def test_show_with_the_objective_direction_missing_names_the_dotted_key(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_settings(run_dir, "direction", inside="objective")
    capsys.readouterr()
    assert main(["show", str(run_dir)]) == USER_ERROR_EXIT_CODE
    err = one_line_error(capsys)
    assert str(run_dir / "run.json") in err and "'objective.direction'" in err and FIX in err


def test_an_objective_direction_that_is_neither_is_refused(run_dir: Path) -> None:
    settings = json.loads((run_dir / "run.json").read_text())
    settings["objective"]["direction"] = "upwards"
    (run_dir / "run.json").write_text(json.dumps(settings))
    with pytest.raises(StoreError, match=r"run\.json: objective\.direction is 'upwards'"):
        assert RunStore.open(run_dir).maximize is None  # never reached: it raises


def test_optional_settings_still_read_with_get(run_dir: Path) -> None:
    edit_settings(run_dir, "executor")  # runs made before it was recorded
    settings = RunStore.open(run_dir).settings
    assert settings.get("executor", "local") == "local" and "executor" not in settings
    assert json.loads(json.dumps(settings)) == settings  # still a plain JSON object


def test_a_checkpoint_without_its_database_names_file_and_key(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = run_dir / "checkpoint.json"
    checkpoint = json.loads(path.read_text())
    del checkpoint["database"]
    path.write_text(json.dumps(checkpoint))
    capsys.readouterr()
    assert main(["resume", str(run_dir), "--iterations", "1"]) == USER_ERROR_EXIT_CODE
    err = one_line_error(capsys)
    assert str(path) in err and "'database'" in err and "restore the run from a backup" in err
