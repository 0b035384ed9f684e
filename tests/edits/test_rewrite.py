"""Applying a reply by edit kind: diffs, full rewrites and crossovers."""

from __future__ import annotations

import pytest

from evolve.edits import EditError, apply_proposal, extract_code
from evolve.mutation import Proposal
from tests.edits.programs import RANDOM_SEARCH, TWO_REGIONS

NEW_SEARCH = """\
def search(f, rng):
    x, best = 2.0, f(2.0)
    for i in range(200):
        step = 0.5 / (1 + i)
        cand = x + rng.uniform(-step, step)
        if f(cand) < best:
            best, x = f(cand), cand
    return x, best
"""


def rewrite(text: str, kind: str = "rewrite") -> Proposal:
    return Proposal(text=text, model="m", edit_kind=kind)


def test_a_full_program_rewrite_replaces_only_the_evolve_block():
    program = RANDOM_SEARCH.replace(
        RANDOM_SEARCH[RANDOM_SEARCH.index("def search") :].split("# EVOLVE-BLOCK-END")[0],
        NEW_SEARCH,
    )
    # The model also "tuned" a fixed line; only the block is taken.
    reply = f"Annealed steps.\n\n```python\n{program.replace('TARGET = 3.7', 'TARGET = 0')}```\n"
    child = apply_proposal(RANDOM_SEARCH, rewrite(reply))
    assert child == program
    assert "TARGET = 3.7" in child


def test_a_bare_body_is_accepted_and_indented_like_the_region():
    child = apply_proposal(RANDOM_SEARCH, rewrite(f"```python\n{NEW_SEARCH}```"))
    assert NEW_SEARCH in child
    indented = "def f(x):\n    # EVOLVE-BLOCK-START\n    return x\n    # EVOLVE-BLOCK-END\n"
    child = apply_proposal(indented, rewrite("```python\nreturn 2 * x\n```"))
    assert child == indented.replace("    return x", "    return 2 * x")


def test_a_rewrite_that_is_not_valid_python_is_rejected():
    broken = NEW_SEARCH.replace("for i in range(200):", "for i in range(200)")
    with pytest.raises(EditError) as err:
        apply_proposal(RANDOM_SEARCH, rewrite(f"```python\n{broken}```", "crossover"))
    assert err.value.kind == "syntax" and "line 10" in err.value.reason


def test_a_rewrite_without_a_code_block_is_rejected_unless_it_is_a_diff():
    with pytest.raises(EditError) as err:
        apply_proposal(RANDOM_SEARCH, rewrite("I would anneal the step size."))
    assert err.value.kind == "no_code_block"
    diff = "<<<<<<< SEARCH\n    step = 0.5\n=======\n    step = 0.25\n>>>>>>> REPLACE\n"
    assert "step = 0.25" in apply_proposal(RANDOM_SEARCH, rewrite(diff))


def test_a_reply_cut_off_before_its_closing_fence_has_no_code_block():
    with pytest.raises(EditError, match="no_code_block"):
        apply_proposal(RANDOM_SEARCH, rewrite(f"```python\n{NEW_SEARCH}"))


def test_several_regions_need_the_full_program_with_every_marker():
    bare = rewrite("```python\nreturn 1\n```")
    with pytest.raises(EditError, match=r"outside_evolve_block.*2 EVOLVE-BLOCK regions"):
        apply_proposal(TWO_REGIONS, bare)
    one = "# EVOLVE-BLOCK-START\nx = 1\n# EVOLVE-BLOCK-END\n"
    with pytest.raises(EditError, match="the reply has 1 EVOLVE-BLOCK regions"):
        apply_proposal(TWO_REGIONS, rewrite(f"```python\n{one}```"))
    full = TWO_REGIONS.replace("total += v * 2", "total += v * 3")
    assert apply_proposal(TWO_REGIONS, rewrite(f"```python\n{full}```")) == full


def test_an_unchanged_rewrite_and_an_empty_reply_are_rejected():
    with pytest.raises(EditError) as err:
        apply_proposal(RANDOM_SEARCH, rewrite(f"```python\n{RANDOM_SEARCH}```"))
    assert err.value.kind == "noop"
    with pytest.raises(EditError) as err:
        apply_proposal(RANDOM_SEARCH, Proposal(text="  \n", model="m"))
    assert err.value.kind == "empty_reply"


def test_extract_code_prefers_the_block_with_markers_then_the_longest():
    reply = "```python\nx = 1\n```\n```python\n# EVOLVE-BLOCK-START\ny\n# EVOLVE-BLOCK-END\n```\n"
    assert extract_code(reply).startswith("# EVOLVE-BLOCK-START")
    assert extract_code("```\nshort\n```\n```py\nlonger line\n```") == "longer line\n"
    assert extract_code("```text\nnot code\n```") is None
