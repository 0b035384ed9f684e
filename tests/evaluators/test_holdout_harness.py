"""The held-out entry point: a job with ``entry="holdout"`` calls the scorer's
``evaluate_holdout`` (and only it, cascade or not) through the same harness as
every other job, in the process sandbox and in the Docker one; the problem
loader finds ``evaluate_holdout`` by reading the scorer, never importing it."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from evolve.config import Problem, load_problem
from sandboxes.job import HOLDOUT_STAGES, EvalJob, Sandbox, Stage, Status
from sandboxes.process import ProcessSandbox
from tests.problem_factory import write_problem

SEED = textwrap.dedent(
    """\
    # EVOLVE-BLOCK-START
    def solve():
        return 2.5
    # EVOLVE-BLOCK-END
    """
)

# evaluate and evaluate_holdout read different data files, so a result says
# which one ran; evaluate_holdout never calls evaluate.
SCORER = textwrap.dedent(
    """\
    import os
    from evaluators import call_candidate

    HERE = os.path.dirname(os.path.abspath(__file__))

    def _data(name):
        with open(os.path.join(HERE, name)) as f:
            return float(f.read())

    def evaluate(program_path):
        value = call_candidate(program_path, "solve", timeout_s=10)
        return {"score": value * _data("train.txt"), "train_metric": 1.0}

    def evaluate_holdout(program_path):
        value = call_candidate(program_path, "solve", timeout_s=10)
        return {"score": value * _data("holdout.txt"), "holdout_only_metric": 7.0}
    """
)

CASCADE_SCORER = textwrap.dedent(
    """\
    def evaluate_stage1(program_path):
        return {"score": 1.0, "stage1": 1.0}

    def evaluate_stage2(program_path):
        return {"score": 2.0, "stage2": 1.0}

    def evaluate_holdout(program_path):
        return {"score": 42.0, "holdout_only_metric": 1.0}
    """
)

CRASHING_SCORER = textwrap.dedent(
    """\
    def evaluate(program_path):
        return {"score": 1.0}

    def evaluate_holdout(program_path):
        raise RuntimeError("the held-out data went missing: boom-17")
    """
)


def problem_with(tmp_path: Path, scorer: str, **data: str) -> Problem:
    root = write_problem(tmp_path / "problem", seed=SEED, scorer=scorer)
    for name, text in data.items():
        (root / f"{name}.txt").write_text(text)
    return load_problem(root)


def test_the_holdout_entry_calls_evaluate_holdout_only(
    sandbox: ProcessSandbox, tmp_path: Path
) -> None:
    problem = problem_with(tmp_path, SCORER, train="2.0", holdout="3.0")
    assert problem.holdout
    held = sandbox.run(problem.make_job("p1", SEED, entry="holdout"))
    assert held.status == Status.OK, held.reason
    assert held.metrics == {"score": 7.5, "holdout_only_metric": 7.0}
    assert held.stage_reached == 1
    normal = sandbox.run(problem.make_job("p1", SEED))
    assert normal.status == Status.OK, normal.reason
    assert normal.metrics == {"score": 5.0, "train_metric": 1.0}  # nothing held out in it


def test_a_cascade_scorer_runs_no_stage_for_the_holdout(
    sandbox: ProcessSandbox, tmp_path: Path
) -> None:
    problem = problem_with(tmp_path, CASCADE_SCORER)
    assert [s.function for s in problem.stages] == ["evaluate_stage1", "evaluate_stage2"]
    job = problem.make_job("p1", SEED, entry="holdout")
    assert job.stages == HOLDOUT_STAGES and job.entry == "holdout"
    held = sandbox.run(job)
    assert held.status == Status.OK, held.reason
    assert held.metrics == {"score": 42.0, "holdout_only_metric": 1.0}
    normal = sandbox.run(problem.make_job("p1", SEED))
    assert normal.metrics == {"score": 2.0, "stage1": 1.0, "stage2": 1.0}
    assert normal.stage_reached == 2


def test_a_crashing_holdout_scorer_is_an_error_with_its_reason(
    sandbox: ProcessSandbox, tmp_path: Path
) -> None:
    problem = problem_with(tmp_path, CRASHING_SCORER)
    held = sandbox.run(problem.make_job("p1", SEED, entry="holdout"))
    assert held.status == Status.ERROR
    assert "scorer.py:evaluate_holdout() raised RuntimeError" in held.reason
    assert "boom-17" in held.artifacts["traceback"]
    assert sandbox.run(problem.make_job("p1", SEED)).status == Status.OK


def test_the_loader_reads_the_scorer_without_importing_it(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    scorer = (
        f"open({str(marker)!r}, 'w').write('x')\n"
        "raise SystemExit('never import me on the host')\n"
        "def evaluate(program_path):\n    return {'score': 1.0}\n"
        "def evaluate_holdout(program_path):\n    return {'score': 1.0}\n"
    )
    problem = problem_with(tmp_path, scorer)
    assert problem.holdout and not marker.exists()


@pytest.mark.parametrize(
    "extra",
    [
        "",  # none at all
        "def helper():\n    def evaluate_holdout(program_path):\n        return {}\n",  # nested
        "class Scorers:\n    def evaluate_holdout(self, program_path):\n        return {}\n",
    ],
)
def test_only_a_top_level_evaluate_holdout_counts(tmp_path: Path, extra: str) -> None:
    scorer = "def evaluate(program_path):\n    return {'score': 1.0}\n" + extra
    problem = problem_with(tmp_path, scorer)
    assert not problem.holdout
    with pytest.raises(ValueError, match="defines no evaluate_holdout"):
        problem.make_job("p1", SEED, entry="holdout")


def test_a_job_names_its_entry_point() -> None:
    assert EvalJob("p", "", {}).entry == "evaluate"
    assert EvalJob("p", "", {}).stages == (Stage("evaluate"),)
    with pytest.raises(ValueError, match="entry must be"):
        EvalJob("p", "", {}, entry="train")  # type: ignore[arg-type]
    # the held-out scorer can never slip into the score evolution sees
    with pytest.raises(ValueError, match="entry='holdout'"):
        EvalJob("p", "", {}, stages=(Stage("evaluate"), Stage("evaluate_holdout")))
    job = EvalJob("p", "", {}, stages=(Stage("evaluate_stage1", 0.5),), entry="holdout")
    assert job.stages == HOLDOUT_STAGES
    assert dataclasses.replace(job, program_id="q").stages == HOLDOUT_STAGES


def test_the_docker_sandbox_runs_the_holdout_entry(docker_sandbox: Sandbox, tmp_path: Path) -> None:
    problem = problem_with(tmp_path, SCORER, train="2.0", holdout="3.0")
    held = docker_sandbox.run(problem.make_job("p1", SEED, entry="holdout"))
    assert held.status == Status.OK, held.reason
    assert held.metrics == {"score": 7.5, "holdout_only_metric": 7.0}
    normal = docker_sandbox.run(problem.make_job("p1", SEED))
    assert normal.metrics == {"score": 5.0, "train_metric": 1.0}
