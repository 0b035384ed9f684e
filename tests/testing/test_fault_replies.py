"""The content faults are what they claim to be for any parent: well-formed
edits that the edit engine rejects for the advertised reason."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evolve.edits import EditError, apply_edit
from evolve.mutation.offline import extract_programs
from evolve.testing.faults import bad_search_reply, garbage_reply, outside_block_reply
from tests.edits.strategies import programs
from tests.testing.helpers import PARENT


def fenced(code: str) -> tuple[str, str]:
    """(prompt text, the parent as the mutator will extract it)."""
    text = f"Improve this:\n```python\n{code}{'' if code.endswith(chr(10)) else chr(10)}```\n"
    return text, extract_programs(text)[0]


def rejection(parent: str, reply: str) -> str:
    with pytest.raises(EditError) as info:
        apply_edit(parent, reply)
    return info.value.kind


@settings(max_examples=150, deadline=None)
@given(code=programs(), seed=st.integers(0, 2**64 - 1))
def test_content_faults_fail_for_their_reason_on_any_program(code: str, seed: int) -> None:
    text, parent = fenced(code)
    assert rejection(parent, garbage_reply(seed)) == "no_blocks"
    assert rejection(parent, bad_search_reply(text, seed)) == "search_not_found"
    reply = outside_block_reply(text, seed)
    assert reply is not None
    assert rejection(parent, reply) == "outside_evolve_block"


def test_outside_block_reply_without_any_code_outside_the_block() -> None:
    text, parent = fenced("# EVOLVE-BLOCK-START\nx = 1\n# EVOLVE-BLOCK-END\n")
    reply = outside_block_reply(text, 3)
    assert reply is not None and rejection(parent, reply) == "outside_evolve_block"


def test_outside_block_reply_needs_a_parent() -> None:
    assert outside_block_reply("no program here", 0) is None
    assert rejection(PARENT, bad_search_reply("no program here", 0)) == "search_not_found"
