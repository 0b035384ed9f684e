"""Property tests of the offline mutator: for any seed and any (generated)
numeric program, the proposal is a valid edit of the EVOLVE-BLOCK only."""

from __future__ import annotations

import ast

from hypothesis import given, settings
from hypothesis import strategies as st

from evolve.edits import apply_edit, parse_search_replace
from evolve.mutation.offline import OfflineMutator
from tests.edits.programs import RANDOM_SEARCH, TWO_REGIONS
from tests.edits.strategies import outside_segments

MUTATOR = OfflineMutator()
seeds = st.integers(0, 2**63 - 1)

number = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.floats(-1e4, 1e4, allow_nan=False).map(repr),
    st.floats(1e-9, 1e-2).map(lambda v: f"{v:.2e}"),
    st.sampled_from(["True", "False", "0", "0.0", "-0.5", "1_000", "0x1F", "2j"]),
)
name = st.sampled_from(["a", "b", "step", "n"])
operator = st.sampled_from(["+", "-", "*", "/", "<", ">=", "**", "//"])
expression = st.builds(
    lambda *parts: " ".join(parts), st.one_of(number, name), operator, st.one_of(number, name)
)
statement = st.one_of(
    st.builds("{} = {}".format, name, st.one_of(number, expression)),
    st.builds("{} += {}".format, name, number),
    st.builds('{} = "{} + 1 < 2"'.format, name, name),
)


@st.composite
def numeric_programs(draw: st.DrawFn) -> str:
    body = draw(st.lists(statement, min_size=1, max_size=8))
    loop = draw(st.booleans())
    lines = ["import math", "", "def run(a=1.0, b=2, step=0.5, n=3):"]
    lines.append("    # EVOLVE-BLOCK-START")
    lines += ["    " + s for s in body[: len(body) // 2]]
    if loop:
        lines.append("    for i in range(3):")
        lines += ["        " + s for s in body[len(body) // 2 :]] or ["        pass"]
    else:
        lines += ["    " + s for s in body[len(body) // 2 :]]
    lines += ["    # EVOLVE-BLOCK-END", "    return a, b, step, n", "", "CONST = 42  # 7 < 8", ""]
    return "\n".join(lines)


def _check(parent: str, inspirations: list[str], seed: int) -> None:
    text = MUTATOR.propose(parent, inspirations, seed=seed)
    assert parse_search_replace(text)
    child = apply_edit(parent, text)
    ast.parse(child)
    assert child != parent
    assert outside_segments(child) == outside_segments(parent)
    assert MUTATOR.propose(parent, inspirations, seed=seed) == text


@settings(max_examples=300, deadline=None)
@given(seeds)
def test_every_seed_gives_a_valid_edit_of_the_shipped_style_programs(seed):
    _check(RANDOM_SEARCH, [], seed)
    _check(TWO_REGIONS, [RANDOM_SEARCH], seed)


@settings(max_examples=200, deadline=None)
@given(numeric_programs(), st.lists(numeric_programs(), max_size=2), seeds)
def test_generated_numeric_programs_get_valid_edits(parent, inspirations, seed):
    _check(parent, inspirations, seed)
