"""--timeout-s, --memory-mb, --cpus, ... over a problem's own limits, for any
folder (an OpenEvolve one included): `eval` applies them, a run keeps them in
run.json for its resume and `verify`, and a value the table refuses is a user
error naming the flag."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evolve.analysis.run import Run
from evolve.cli.main import main
from evolve.config import load_problem
from evolve.config.overrides import apply_overrides
from evolve.errors import UsageError
from tests.problem_factory import write_problem

REPORTING_SCORER = """
import resource

def evaluate(program_path):
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return {"score": 1.0, "memory_mb": soft / 2**20}
"""
SLOW_SCORER = """
import time

def evaluate(program_path):
    time.sleep(4)
    return {"score": 1.0}
"""
PEER = Path(__file__).resolve().parents[1] / "problems" / "peers"


def test_eval_applies_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    problem = write_problem(tmp_path / "p", scorer=REPORTING_SCORER)
    assert main(["eval", str(problem), "--json", "--memory-mb", "2048"]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"]["memory_mb"] == 2048
    slow = write_problem(tmp_path / "slow", scorer=SLOW_SCORER)
    assert main(["eval", str(slow), "--json", "--timeout-s", "1"]) == 1
    assert json.loads(capsys.readouterr().out)["status"] == "timeout"


def test_an_openevolve_folder_takes_them_without_a_problem_toml(tmp_path: Path) -> None:
    folder = Path(shutil.copytree(PEER / "openevolve_function_minimization", tmp_path / "fm"))
    loaded = apply_overrides(load_problem(folder), {"memory_mb": 4096, "timeout_s": 90})
    assert loaded.layout == "openevolve" and not (folder / "problem.toml").exists()
    assert loaded.limits().resources.memory_mb == 4096 and loaded.limits().timeout_s == 90


def test_a_run_keeps_them_for_its_resume_and_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = write_problem(tmp_path / "p", scorer=REPORTING_SCORER)
    run_dir = tmp_path / "run"
    args = ["run", str(problem), "--iterations", "2", "--out", str(run_dir)]
    assert main([*args, "--memory-mb", "1536", "--cpus", "0.5"]) == 0
    assert json.loads((run_dir / "run.json").read_text())["overrides"] == {
        "memory_mb": 1536,
        "cpus": 0.5,
    }
    assert main(["resume", str(run_dir), "--iterations", "2"]) == 0
    programs = Run.open(run_dir).programs  # the seed, the run's and the resume's children
    assert len(programs) >= 3 and set(programs["metric.memory_mb"].dropna()) == {1536.0}
    assert main(["verify", str(run_dir), "--top", "1"]) == 0  # re-scored with them: exact


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [("--memory-mb", "10", "--memory-mb: memory_mb must be >= 64"), ("--timeout-s", "0", "> 0")],
)
def test_a_refused_value_names_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, message: str
) -> None:
    problem = write_problem(tmp_path / "p")
    assert main(["eval", str(problem), flag, value]) == 2
    assert message in capsys.readouterr().err
    with pytest.raises(UsageError, match="unknown limit override"):
        apply_overrides(load_problem(problem), {"disk_gb": 1})


def test_an_openevolve_config_file_other_than_config_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = Path(shutil.copytree(PEER / "openevolve_function_minimization", tmp_path / "fm"))
    (folder / "config_phase_1.yaml").write_text("evaluator:\n  timeout: 42\n")
    assert load_problem(folder).spec.evaluation.timeout_s == 60  # its config.yaml
    phase = load_problem(folder, "config_phase_1.yaml")
    assert phase.spec.evaluation.timeout_s == 42 and "config_phase_1.yaml" in phase.files
    run_dir = tmp_path / "run"
    args = ["run", str(folder), "--config", str(folder / "config_phase_1.yaml")]
    assert main([*args, "--iterations", "1", "--out", str(run_dir)]) == 0
    assert json.loads((run_dir / "run.json").read_text())["config"] == "config_phase_1.yaml"
    assert main(["resume", str(run_dir), "--iterations", "1"]) == 0
    capsys.readouterr()
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("evaluator:\n  timeout: 5\n")
    assert main(["eval", str(folder), "--config", str(outside)]) == 2
    assert "not a file of" in capsys.readouterr().err
    native = write_problem(tmp_path / "native")
    assert main(["eval", str(native), "--config", "config.yaml"]) == 2
    assert "has a problem.toml" in capsys.readouterr().err
