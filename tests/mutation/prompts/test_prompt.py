"""Serving the offline mutator behind a chat prompt (the fake LLM endpoint)."""

from __future__ import annotations

import pytest

from evolve.edits import apply_edit
from evolve.mutation import MutationError
from evolve.mutation.offline import extract_programs, propose_for_messages, propose_for_prompt
from tests.edits.programs import RANDOM_SEARCH, TWO_REGIONS

INSPIRATION = RANDOM_SEARCH.replace("step = 0.5", "step = 0.3")


def prompt(*programs: tuple[str, str]) -> str:
    parts = ["You are an expert. Improve the program.\n"]
    for heading, code in programs:
        parts.append(f"## {heading}\n```python\n{code}```\n")
    parts.append("Answer with SEARCH/REPLACE blocks.")
    return "\n".join(parts)


def test_the_last_marked_python_block_is_the_parent_and_the_rest_inspirations():
    text = prompt(("Inspiration", INSPIRATION), ("Other", "x = 1\n"), ("Current", RANDOM_SEARCH))
    parent, inspirations = extract_programs(text)
    assert parent == RANDOM_SEARCH
    assert inspirations == [INSPIRATION, "x = 1\n"]


def test_a_fence_tagged_parent_wins_over_position():
    text = f"```python parent\n{RANDOM_SEARCH}```\n\n```python\n{TWO_REGIONS}```\n"
    assert extract_programs(text) == (RANDOM_SEARCH, [TWO_REGIONS])


def test_reply_applies_to_the_parent_and_is_deterministic_per_prompt():
    text = prompt(("Inspiration", INSPIRATION), ("Current", RANDOM_SEARCH))
    reply = propose_for_prompt(text)
    assert reply == propose_for_prompt(text)
    assert apply_edit(RANDOM_SEARCH, reply) != RANDOM_SEARCH
    assert len({propose_for_prompt(text, seed=s) for s in range(10)}) > 5


def test_chat_messages_are_read_including_content_parts():
    messages = [
        {"role": "system", "content": "You evolve programs."},
        {"role": "user", "content": [{"type": "text", "text": prompt(("Current", RANDOM_SEARCH))}]},
    ]
    reply = propose_for_messages(messages, seed=4)
    assert apply_edit(RANDOM_SEARCH, reply) != RANDOM_SEARCH


def test_prompt_without_a_marked_program_is_an_error():
    with pytest.raises(MutationError, match="no ```python block with EVOLVE-BLOCK markers"):
        propose_for_prompt(prompt(("Current", "x = 1\n")))
