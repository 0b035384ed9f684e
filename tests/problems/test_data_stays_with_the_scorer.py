"""A candidate cannot read its problem's data, on both sandboxes.

Each shipped problem's seed is given a preamble that tries, when the candidate
is loaded, to read every file the sandbox received besides the program (the
scorer and its data: the targets of symbolic_regression, the instances of the
bin-packing problems), to list its directory, and to read every file of the
problem folder on the host by its absolute path (a reference solution
included). If one read succeeds the candidate raises ``READ <file>`` and the
job fails; otherwise it says ``DENIED`` on stderr and scores as usual. Before
scorer-only files and the covered host directories, every read succeeded (the
review reached R^2 = 1.0 on symbolic_regression this way).
"""

from __future__ import annotations

import pytest

from evolve.config import load_problem
from sandboxes.job import Sandbox, Status
from tests.problems.helpers import PROBLEMS, SHIPPED

PREAMBLE = """
import os as _os, sys as _sys

def _probe(names, host_files):
    here = _os.path.dirname(_os.path.abspath(__file__))
    for path in [_os.path.join(here, name) for name in names] + host_files:
        try:
            with open(path, "rb") as f:
                f.read(1)
        except OSError:
            continue
        raise RuntimeError("READ " + path)
    try:
        _os.listdir(here)
    except OSError:
        pass
    else:
        raise RuntimeError("LISTED " + here)
    print("DENIED", file=_sys.stderr)

_probe(NAMES, HOST_FILES)
"""


def probing_seed(problem: str) -> str:
    loaded = load_problem(PROBLEMS / problem)
    names = sorted(n for n in loaded.files if n not in loaded.visible)
    assert names, f"{problem} ships no scorer-only file"
    host = sorted(str(p) for p in loaded.root.rglob("*") if p.is_file())
    assert any("scorer.py" in p for p in host)
    preamble = PREAMBLE.replace("NAMES", repr(names)).replace("HOST_FILES", repr(host))
    return preamble + loaded.initial_path.read_text()


def check(box: Sandbox, problem: str) -> None:
    if not box.guarantees().hidden_scorer_files:
        pytest.skip(f"the {box.name} sandbox cannot hide scorer files here (needs root)")
    loaded = load_problem(PROBLEMS / problem)
    result = box.run(loaded.make_job("probe", probing_seed(problem)))
    text = result.reason + "".join(result.artifacts.values())
    assert "READ " not in text and "LISTED " not in text, text[-2000:]
    assert result.status == Status.OK, result.reason
    assert "DENIED" in result.artifacts.get("stderr", "")


@pytest.mark.parametrize("problem", SHIPPED)
def test_a_candidate_cannot_read_its_problem_data_in_the_process_sandbox(
    process_box: Sandbox, problem: str
) -> None:
    check(process_box, problem)


@pytest.mark.parametrize("problem", SHIPPED)
def test_a_candidate_cannot_read_its_problem_data_in_the_docker_sandbox(
    docker_box: Sandbox, problem: str
) -> None:
    check(docker_box, problem)


@pytest.mark.parametrize("n", [26, 32])
def test_the_reference_solution_never_enters_the_sandbox(n: int) -> None:
    loaded = load_problem(PROBLEMS / f"circle_packing_{n}")
    assert (loaded.root / "reference" / f"alphaevolve_n{n}.json").is_file()
    assert not [name for name in loaded.files if "reference" in name]


# bin packing is online: priority() must decide each item without the ones to
# come. It used to share a process with every instance (the driver's frames).
PEEKING_PRIORITY = """
import gc, sys
import numpy as np

CALLS = [0]

def _future_in_sight():
    CALLS[0] += 1
    frame = sys._getframe()
    while frame is not None:
        for value in frame.f_locals.values():
            if isinstance(value, (list, dict)) and len(value) >= 20:
                return True
        frame = frame.f_back
    if CALLS[0] > 3:  # a full heap scan on the first items only: it is slow
        return False
    return any(isinstance(o, dict) and "items" in o and "capacity" in o for o in gc.get_objects())

# EVOLVE-BLOCK-START
def priority(item, bins):
    if _future_in_sight():
        raise RuntimeError("FUTURE ITEMS IN SIGHT")
    return -(bins - item)
# EVOLVE-BLOCK-END
"""


@pytest.mark.parametrize("problem", ["bin_packing_or3"])
def test_an_online_heuristic_cannot_see_the_items_to_come(
    process_box: Sandbox, docker_box: Sandbox, problem: str
) -> None:
    loaded = load_problem(PROBLEMS / problem)
    for box in (process_box, docker_box):
        result = box.run(loaded.make_job("peek", PEEKING_PRIORITY))
        text = result.reason + "".join(result.artifacts.values())
        assert "FUTURE ITEMS IN SIGHT" not in text, text[-1500:]
        assert result.status == Status.OK, result.reason
