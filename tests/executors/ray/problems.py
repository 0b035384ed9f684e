"""Small problems for the Ray tests (written into tmp dirs)."""

from __future__ import annotations

from pathlib import Path

from tests.problem_factory import write_problem

SLEEPY_SCORER = """
import os, time
from evaluators import call_candidate

def evaluate(program_path):
    time.sleep(0.15)
    x = float(call_candidate(program_path, "solve", timeout_s=10))
    return {"score": -abs(x - 3.0)}
"""

SEED = """
# EVOLVE-BLOCK-START
def solve():
    return 1.0
# EVOLVE-BLOCK-END
"""


def sleepy_problem(root: Path) -> Path:
    return write_problem(root, seed=SEED, scorer=SLEEPY_SCORER)
