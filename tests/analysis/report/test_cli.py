"""`evolve report` and `evolve export` from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from evolve.analysis.run import Run
from evolve.cli import main
from tests.analysis.synthetic import synthetic_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_run(tmp_path_factory.mktemp("cli"), 40)


def test_report_writes_one_html_file(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(run_dir), "-o", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and '"total": 40' in page
    assert str(tmp_path / "r.html") in capsys.readouterr().out
    assert main(["report", str(run_dir)]) == 0  # default: inside the run directory
    assert (run_dir / "report.html").is_file()


def test_export_best_and_by_id(run_dir: Path, tmp_path: Path) -> None:
    run = Run.open(run_dir)
    best = str(run.best(1).index[0])
    assert main(["export", str(run_dir), "--best", "-o", str(tmp_path / "best.py")]) == 0
    assert (tmp_path / "best.py").read_text() == run.code(best)
    assert main(["export", str(run_dir)]) == 0  # --best is the default
    assert (run_dir / f"best_{best}.py").read_text() == run.code(best)
    assert main(["export", str(run_dir), "--id", "p000003", "-o", str(tmp_path / "3.py")]) == 0
    assert (tmp_path / "3.py").read_text() == run.code("p000003")


def test_bad_input_exits_2_with_the_fix(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", str(run_dir), "--id", "nope"]) == 2
    assert "has no program 'nope'" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export", str(run_dir), "--best", "--id", "p000003"])
