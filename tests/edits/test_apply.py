"""Applying SEARCH/REPLACE blocks: strict, region-bounded, all-or-nothing."""

from __future__ import annotations

import pytest

from evolve.edits import (
    EDIT_ERROR_KINDS,
    EditError,
    SearchReplace,
    apply_edit,
    apply_search_replace,
    replace_evolve_block,
)
from tests.edits.programs import RANDOM_SEARCH, TWO_REGIONS


def edit(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


def rejected(parent: str, text: str) -> EditError:
    with pytest.raises(EditError) as info:
        apply_edit(parent, text)
    assert info.value.kind in EDIT_ERROR_KINDS
    return info.value


def test_exact_edit_inside_the_block_changes_only_that_line():
    child = apply_edit(RANDOM_SEARCH, edit("    step = 0.5\n", "    step = 0.125\n"))
    assert child == RANDOM_SEARCH.replace("step = 0.5", "step = 0.125")


def test_blocks_apply_in_order_each_to_the_previous_result():
    text = edit("    step = 0.5\n", "    step = 0.7\n") + edit(
        "    step = 0.7\n", "    step = 0.9\n"
    )
    assert "step = 0.9" in apply_edit(RANDOM_SEARCH, text)


def test_edits_in_two_regions_both_apply_and_line_counts_may_change():
    text = edit("    b = a ** 2 if a >= 0 else -a\n", "    b = a\n    b += 1\n") + edit(
        "    return total / max(len(values), 1)\n", "    return total\n"
    )
    child = apply_edit(TWO_REGIONS, text)
    assert "    b = a\n    b += 1\n" in child and "    return total\n" in child
    assert "LIMIT = 10  # not evolvable\n" in child


def test_edit_outside_every_region_is_rejected_naming_the_line():
    error = rejected(RANDOM_SEARCH, edit("TARGET = 3.7\n", "TARGET = 0.0\n"))
    assert error.kind == "outside_evolve_block"
    assert "line 4" in error.reason and "TARGET = 3.7" in error.reason


def test_changing_a_later_region_reports_parent_line_numbers_after_earlier_growth():
    text = edit("    return a + b\n", "    c = 1\n    d = 2\n    return a + b\n") + edit(
        "LIMIT = 10  # not evolvable\n", "LIMIT = 11\n"
    )
    error = rejected(TWO_REGIONS, text)
    assert error.kind == "outside_evolve_block" and error.block == 2
    assert "line 11" in error.reason  # LIMIT is line 11 of the parent, 13 of the partial child


def test_marker_lines_may_be_context_but_not_changed_or_removed():
    context = "# EVOLVE-BLOCK-START\ndef search(f, rng):\n"
    child = apply_edit(RANDOM_SEARCH, edit(context, context.replace("f, rng", "f, rng, n=1")))
    assert "def search(f, rng, n=1):" in child
    removed = rejected(RANDOM_SEARCH, edit(context, "def search(f, rng):\n"))
    assert removed.kind == "outside_evolve_block"
    altered = rejected(RANDOM_SEARCH, edit("# EVOLVE-BLOCK-END\n", "# EVOLVE-BLOCK-END!\n"))
    assert altered.kind == "outside_evolve_block"


def test_adding_a_marker_line_inside_a_block_is_rejected():
    error = rejected(
        RANDOM_SEARCH, edit("    step = 0.5\n", "    step = 0.5\n# EVOLVE-BLOCK-END\n")
    )
    assert error.kind == "outside_evolve_block" and "marker" in error.reason


def test_insertion_right_after_start_and_right_before_end_is_inside():
    start = "# EVOLVE-BLOCK-START\n"
    child = apply_edit(RANDOM_SEARCH, edit(start, start + "import math\n"))
    assert start + "import math\n" in child
    end = "# EVOLVE-BLOCK-END\n"
    child = apply_edit(
        RANDOM_SEARCH, edit("    return x, best\n" + end, "    return x, best\nY = 1\n" + end)
    )
    assert "Y = 1\n" + end in child


def test_insertion_just_outside_a_region_is_rejected():
    end = "# EVOLVE-BLOCK-END\n"
    error = rejected(RANDOM_SEARCH, edit(end + "\n", end + "Y = 1\n\n"))
    assert error.kind == "outside_evolve_block"


def test_search_not_found_and_ambiguous_are_told_apart():
    assert (
        rejected(RANDOM_SEARCH, edit("    step = 9\n", "    step = 1\n")).kind == "search_not_found"
    )
    program = "# EVOLVE-BLOCK-START\nx = 1\nx = 1\n# EVOLVE-BLOCK-END\n"
    error = rejected(program, edit("x = 1\n", "x = 2\n"))
    assert error.kind == "ambiguous" and "2 times" in error.reason
    assert apply_edit(
        program, edit("x = 1\nx = 1\n# EVOLVE-BLOCK-END\n", "x = 1\nx = 2\n# EVOLVE-BLOCK-END\n")
    )


def test_search_matches_whole_lines_only():
    program = "# EVOLVE-BLOCK-START\nvalue = 10\n# EVOLVE-BLOCK-END\n"
    assert rejected(program, edit("value = 1\n", "value = 2\n")).kind == "search_not_found"


def test_indentation_shift_is_tolerated_and_the_replacement_reindented():
    text = edit("iterations = 50\nstep = 0.5  \n", "iterations = 80\nif True:\n    step = 0.1\n")
    child = apply_edit(RANDOM_SEARCH, text)
    assert "    iterations = 80\n    if True:\n        step = 0.1\n" in child


def test_fuzzy_match_keeps_original_bytes_of_unchanged_context():
    program = "# EVOLVE-BLOCK-START\n    a = 1   \n    b = 2\n# EVOLVE-BLOCK-END\n"
    child = apply_edit(program, edit("a = 1\nb = 2\n", "a = 1\nb = 3\n"))
    assert child == "# EVOLVE-BLOCK-START\n    a = 1   \n    b = 3\n# EVOLVE-BLOCK-END\n"


def test_fuzzy_match_that_is_ambiguous_is_rejected():
    program = "# EVOLVE-BLOCK-START\nif a:\n    x = 1\nif b:\n        x = 1\n# EVOLVE-BLOCK-END\n"
    assert rejected(program, edit("  x = 1\n", "  x = 2\n")).kind == "ambiguous"


def test_exact_match_wins_over_fuzzy_matches():
    program = "# EVOLVE-BLOCK-START\nx = 1\nif b:\n    x = 1\n# EVOLVE-BLOCK-END\n"
    child = apply_edit(program, edit("    x = 1\n", "    x = 2\n"))
    assert child == program.replace("    x = 1", "    x = 2")


def test_failure_in_a_later_block_applies_nothing():
    blocks = [SearchReplace("    step = 0.5\n", "    step = 0.6\n"), SearchReplace("nope\n", "x\n")]
    parent = RANDOM_SEARCH
    with pytest.raises(EditError) as info:
        apply_search_replace(parent, blocks)
    assert info.value.block == 2 and info.value.kind == "search_not_found"
    assert parent == RANDOM_SEARCH


def test_noop_edit_is_rejected():
    error = rejected(RANDOM_SEARCH, edit("    step = 0.5\n", "    step = 0.5\n"))
    assert error.kind == "noop"
    swap = edit("    step = 0.5\n", "    step = 0.6\n") + edit(
        "    step = 0.6\n", "    step = 0.5\n"
    )
    assert rejected(RANDOM_SEARCH, swap).kind == "noop"


def test_parent_without_regions_or_with_broken_markers_cannot_be_edited():
    assert rejected("x = 1\n", edit("x = 1\n", "x = 2\n")).kind == "no_evolve_block"
    broken = "# EVOLVE-BLOCK-START\nx = 1\n"
    assert rejected(broken, edit("x = 1\n", "x = 2\n")).kind == "no_evolve_block"


def test_crlf_program_keeps_crlf_line_endings():
    program = "a = 0\r\n# EVOLVE-BLOCK-START\r\nx = 1\r\n# EVOLVE-BLOCK-END\r\n"
    child = apply_edit(program, edit("x = 1\n", "x = 2\ny = 3\n"))
    assert child == "a = 0\r\n# EVOLVE-BLOCK-START\r\nx = 2\r\ny = 3\r\n# EVOLVE-BLOCK-END\r\n"


def test_program_without_final_newline_is_handled():
    program = "# EVOLVE-BLOCK-START\nx = 1\n# EVOLVE-BLOCK-END"
    assert apply_edit(program, edit("x = 1\n", "x = 2\n")) == program.replace("x = 1", "x = 2")


def test_replace_evolve_block_rewrites_one_region():
    child = replace_evolve_block(TWO_REGIONS, "def g(values, flag=True):\n    return 0", index=1)
    assert child.endswith(
        "# EVOLVE-BLOCK-START\ndef g(values, flag=True):\n    return 0\n# EVOLVE-BLOCK-END\n"
    )
    assert child.startswith(TWO_REGIONS[: TWO_REGIONS.index("def g")])


def test_replace_evolve_block_accepts_echoed_markers_and_rejects_bad_input():
    body = "# EVOLVE-BLOCK-START\ndef search(f, rng):\n    return 0, 0\n# EVOLVE-BLOCK-END\n"
    child = replace_evolve_block(RANDOM_SEARCH, body)
    assert "def search(f, rng):\n    return 0, 0\n# EVOLVE-BLOCK-END" in child
    with pytest.raises(EditError) as info:
        replace_evolve_block(RANDOM_SEARCH, "x = 1\n", index=3)
    assert info.value.kind == "no_evolve_block"
    same = RANDOM_SEARCH[
        RANDOM_SEARCH.index("def search") : RANDOM_SEARCH.index("# EVOLVE-BLOCK-END")
    ]
    with pytest.raises(EditError) as info:
        replace_evolve_block(RANDOM_SEARCH, same)
    assert info.value.kind == "noop"
    with pytest.raises(EditError) as info:
        replace_evolve_block(RANDOM_SEARCH, body + body)
    assert info.value.kind == "outside_evolve_block"
