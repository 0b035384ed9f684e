"""The offline mutator on C-like programs: token-level edits inside the blocks
only, never in strings, comments or preprocessor lines, brackets balanced."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evolve.edits import apply_edit, evolve_regions, split_lines
from evolve.mutation.offline import OfflineMutator
from evolve.mutation.offline.clike import (
    balanced,
    duplicate_statement,
    looks_clike,
    perturb_number,
)

CPP = """#include <vector>
#include <cstdio>

// EVOLVE-BLOCK-START
#define SLACK 3
double priority(double item, double bin, int count) {
    const char* tag = "{not a brace} 42";  // a comment with 7 and {
    double waste = bin - item;
    waste *= 1.5f;
    if (waste < 0.25 && count > 2) {
        return -1e9;
    }
    count += 1;
    return -waste + 0.001 * count;
}
// EVOLVE-BLOCK-END

int main() { std::vector<int> v{1, 2}; std::printf("%d\\n", (int)v.size()); return 0; }
"""

RUST = """// EVOLVE-BLOCK-START
fn score(x: f64) -> f64 {
    let mut total = 0.0;
    for i in 0..10 {
        total += x * (i as f64) / 3.0;
    }
    total
}
// EVOLVE-BLOCK-END
fn main() { println!("{}", score(2.0)); }
"""


def outside_blocks(code: str) -> list[str]:
    lines = split_lines(code)
    inside = {
        n for r in evolve_regions(code) for n in range(r.first_body_line, r.last_body_line + 1)
    }
    return [line for n, line in enumerate(lines, start=1) if n not in inside]


def test_brackets_balance_outside_strings_and_comments():
    assert balanced(CPP) and balanced(RUST)
    assert balanced('s = "}}}"; // ((( \n')
    assert not balanced("f(a[1)];")
    assert not balanced("{ { }")
    assert looks_clike(CPP) and looks_clike(RUST)
    assert not looks_clike("# EVOLVE-BLOCK-START\nx = 1\n# EVOLVE-BLOCK-END\n")


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from([CPP, RUST]))
def test_every_proposal_applies_and_changes_only_the_block(seed, parent):
    edit = OfflineMutator().propose(parent, seed=seed)
    child = apply_edit(parent, edit)
    assert child != parent and balanced(child)
    assert outside_blocks(child) == outside_blocks(parent)
    for kept in ('"{not a brace} 42"', "// a comment with 7 and {", "#define SLACK 3"):
        if kept in parent:
            assert kept in child


def test_constants_keep_their_suffix_and_a_negative_one_is_parenthesised():
    seen = set()
    for seed in range(300):
        found = perturb_number(CPP, random.Random(seed), [])
        assert found is not None
        child, note = found
        seen.add(note.split(" -> ")[0])
        old, new = note.split(" (line")[0].split(" -> ")
        if old == "1.5f":
            assert new.rstrip(")").endswith("f")  # still a float literal
        if " -> (" in note:
            assert "(-" in child
    assert "3" not in seen and "42" not in seen and "7" not in seen  # define, string, comment
    assert {"1.5f", "0.25", "0.001"} <= seen


def test_declarations_are_never_repeated():
    for seed in range(100):
        found = duplicate_statement(CPP, random.Random(seed), [])
        assert found is not None
        assert "waste *= 1.5f" in found[1] or "count += 1" in found[1]


def test_code_that_is_neither_python_nor_balanced_is_refused():
    broken = "// EVOLVE-BLOCK-START\nint f() { return (1;\n// EVOLVE-BLOCK-END\n"
    with pytest.raises(Exception, match="does not parse"):
        OfflineMutator().propose(broken, seed=1)
