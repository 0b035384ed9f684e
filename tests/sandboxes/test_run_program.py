"""``evaluators.run_program`` inside a sandbox job: a command runs as the
candidate (its ids, limits and filter), its output is bounded, its deadline
kills its whole tree, and what it can read is what the candidate can read."""

from __future__ import annotations

import shutil
import textwrap

import pytest

from sandboxes.job import Status
from sandboxes.process import ProcessSandbox
from tests.sandboxes.jobs import make_job

CANDIDATE = "def solve():\n    return 1\n"


HEADER = "import os, sys\nfrom evaluators import run_program, CandidateTimeout\n\n"


def scorer(body: str) -> str:
    """A scorer whose evaluate() is ``body`` (any indentation)."""
    lines = "\n".join("    " + line for line in textwrap.dedent(body).strip().splitlines())
    return f"{HEADER}def evaluate(program_path):\n{lines}\n"


def run(box, body: str, **limits: float):
    return box.run(make_job(CANDIDATE, scorer(body), **limits))


@pytest.fixture(params=["process", "docker"])
def box(request, sandbox: ProcessSandbox):
    if request.param == "process":
        return sandbox
    return request.getfixturevalue("docker_sandbox")


def test_a_command_gets_input_and_its_exit_code_and_output_come_back(box) -> None:
    result = run(
        box,
        """
        script = "read a; echo got $a; echo err >&2; exit 3"
        done = run_program(["sh", "-c", script], input=b"42\\n")
        return {"metrics": {"score": float(done.returncode)},
                "artifacts": {"out": done.stdout_text(), "err": done.stderr_text()}}
        """,
    )
    assert result.status == Status.OK, result.reason
    assert result.metrics["score"] == 3.0
    assert result.artifacts["out"] == "got 42\n" and result.artifacts["err"] == "err\n"


def test_it_runs_as_the_candidate_not_as_the_scorer(box) -> None:
    result = run(
        box,
        """
        mine = os.geteuid()  # the scorer's (its real id is the candidate's)
        theirs = run_program(["sh", "-c", "id -u"]).stdout_text().strip()
        secret = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scorer.py")
        peek = run_program(["cat", secret])
        env = run_program(["env"]).stdout_text()
        return {"metrics": {"score": 1.0, "same_uid": float(str(mine) == theirs),
                            "read_scorer": float(peek.returncode == 0)},
                "artifacts": {"env": env}}
        """,
    )
    assert result.status == Status.OK, result.reason
    if result.metrics["same_uid"] == 1.0:
        pytest.skip("this sandbox runs scorer and candidate under one uid (no root here)")
    assert result.metrics["read_scorer"] == 0.0  # scorer-only files stay hidden
    assert "SECRET" not in result.artifacts["env"] and "PATH=" in result.artifacts["env"]


def test_a_flood_is_cut_and_the_command_killed(box) -> None:
    result = run(
        box,
        """
        done = run_program(["sh", "-c", "yes garbage"], max_output_bytes=4096)
        return {"metrics": {"score": float(len(done.stdout)), "cut": float(done.truncated),
                            "code": float(done.returncode)}}
        """,
    )
    assert result.status == Status.OK, result.reason
    assert result.metrics["score"] == 4096 and result.metrics["cut"] == 1.0
    assert result.metrics["code"] < 0  # killed by a signal


def test_a_hang_and_its_children_end_at_the_deadline(box) -> None:
    result = run(
        box,
        """
        try:
            run_program(["sh", "-c", "sleep 60 & sleep 60 & wait"], timeout_s=0.5)
        except CandidateTimeout as exc:
            return {"metrics": {"score": 1.0}, "artifacts": {"why": str(exc)}}
        return {"score": 0.0}
        """,
        timeout_s=20,
    )
    assert result.status == Status.OK, result.reason
    assert result.metrics["score"] == 1.0 and "within 0.5 s" in result.artifacts["why"]


def test_a_fork_bomb_is_held_by_the_process_limit(box) -> None:
    result = run(
        box,
        """
        done = run_program(["sh", "-c", "for i in $(seq 1 400); do sleep 5 & done; wait"],
                           timeout_s=15)
        return {"metrics": {"score": 1.0, "code": float(done.returncode)},
                "artifacts": {"err": done.stderr_text()[-300:]}}
        """,
        timeout_s=30,
        max_processes=32,
    )
    assert result.status == Status.OK, result.reason
    assert result.metrics["code"] != 0 and "fork" in result.artifacts["err"].lower()


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed on this host")
def test_the_process_sandbox_compiles_and_runs_cpp_as_the_candidate(sandbox) -> None:
    source = r"""#include <cstdio>
// EVOLVE-BLOCK-START
int value() { return 6 * 7; }
// EVOLVE-BLOCK-END
int main() { std::printf("%d\n", value()); }
"""
    job = make_job(
        CANDIDATE,
        scorer(
            f"""
            src = "/tmp/main.cpp"
            open(src, "w").write({source!r})
            built = run_program(["g++", "-O1", src, "-o", "/tmp/main"], timeout_s=120)
            if built.returncode != 0:
                why = built.stderr_text()
                return {{"metrics": {{"score": -1.0}}, "artifacts": {{"build": why}}}}
            return {{"score": float(run_program(["/tmp/main"]).stdout_text())}}
            """
        ),
        timeout_s=120,
        memory_mb=2048,
    )
    result = sandbox.run(job)
    assert result.status == Status.OK, (result.reason, result.artifacts)
    assert result.metrics["score"] == 42.0, result.artifacts
