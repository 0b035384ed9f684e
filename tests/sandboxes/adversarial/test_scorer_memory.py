"""A candidate cannot read the scorer's memory, on both backends.

``call_candidate`` used to fork the scorer's process: the child held a copy of
everything the scorer had loaded (test targets, an instance set) and of its
stack. A candidate found them with ``gc`` or ``sys._getframe`` (on the commit
before the zygote, the first case below scored 2). The candidate now comes from
a process forked before the scorer loaded, and sees only the call's arguments.
"""

from __future__ import annotations

from sandboxes.job import Sandbox, Status
from tests.sandboxes.adversarial.corpus import run

SECRET = "evolve-secret-7f3a91"

# The scorer keeps the secret in a global and in a local of evaluate() while it
# calls the candidate; the candidate reports how many copies it found.
SCORER = f"""
from evaluators import call_candidate

TARGETS = ["{SECRET}"] * 3

def evaluate(program_path):
    hidden = "{SECRET}" + "-local"
    return {{"score": float(call_candidate(program_path, "solve", timeout_s=30))}}
"""

HUNTER = f"""
import gc, sys

def solve():
    found = 0
    for obj in gc.get_objects():
        try:
            if isinstance(obj, dict) and "TARGETS" in obj:
                found += 1
            if isinstance(obj, list) and "{SECRET}" in obj:
                found += 1
        except Exception:
            pass
    frame = sys._getframe()
    while frame is not None:
        found += any("{SECRET}" in str(v) for v in frame.f_locals.values())
        frame = frame.f_back
    return found
"""


def test_the_candidate_finds_nothing_of_the_scorers_memory(backend: Sandbox) -> None:
    result = run(backend, HUNTER, SCORER)
    assert result.status == Status.OK, result.reason
    assert result.metrics["score"] == 0


# An online problem: the scorer's simulation asks about one item at a time; the
# candidate must not learn the items to come (the review planned bin packing
# offline from the whole instance set).
ONLINE_SCORER = """
from evaluators import candidate_session

ITEMS = [11.5, 22.5, 33.5, 44.5]

def evaluate(program_path):
    peeked = 0
    with candidate_session(program_path, timeout_s=30) as candidate:
        for i, item in enumerate(ITEMS):
            future = candidate.call("choose", item)
            peeked += sum(1 for x in future if x in ITEMS[i + 1:])
    return {"score": float(peeked)}
"""

PEEKER = """
import gc, sys

SEEN = []

def choose(item):
    SEEN.append(item)
    numbers = set()
    for obj in gc.get_objects():
        if isinstance(obj, list):
            numbers.update(x for x in obj if isinstance(x, float))
    frame = sys._getframe()
    while frame is not None:
        for value in frame.f_locals.values():
            if isinstance(value, list):
                numbers.update(x for x in value if isinstance(x, float))
        frame = frame.f_back
    return sorted(numbers - set(SEEN))
"""


def test_an_online_candidate_sees_only_the_items_it_was_given(backend: Sandbox) -> None:
    result = run(backend, PEEKER, ONLINE_SCORER)
    assert result.status == Status.OK, result.reason
    assert result.metrics["score"] == 0
