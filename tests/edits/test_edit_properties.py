"""Property tests of the edit engine: whatever the edit, text outside the
EVOLVE-BLOCK bodies never changes, and failures are all-or-nothing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from evolve.edits import (
    EDIT_ERROR_KINDS,
    EditError,
    SearchReplace,
    apply_search_replace,
    format_search_replace,
    parse_search_replace,
)
from tests.edits.strategies import (
    any_line,
    body_line_indices,
    code_line,
    occurrences,
    outside_segments,
    programs,
    text,
)

# Per-test settings: loading a profile here would change other folders' tests.
PROPERTY = settings(max_examples=150, deadline=None)


def _lines(program: str) -> list[str]:
    return program.split("\n")[:-1] if program.endswith("\n") else program.split("\n")


@PROPERTY
@given(programs(), st.data())
def test_an_exact_edit_inside_a_block_applies_and_changes_nothing_outside(program, data):
    lines = _lines(program)
    body = body_line_indices(program)
    start = data.draw(st.sampled_from(body))
    stop = start + 1
    while stop in body and data.draw(st.booleans()):
        stop += 1
    window = lines[start:stop]
    replacement = data.draw(st.lists(any_line, max_size=4))
    block = SearchReplace(text(window), text(replacement))
    if occurrences(lines, window) > 1:
        try:
            apply_search_replace(program, [block])
        except EditError as error:
            assert error.kind == "ambiguous"
            return
        raise AssertionError("a repeated SEARCH text was applied")
    if replacement == window:
        try:
            apply_search_replace(program, [block])
        except EditError as error:
            assert error.kind == "noop"
            return
        raise AssertionError("a no-op edit was accepted")
    child = apply_search_replace(program, [block])
    assert outside_segments(child) == outside_segments(program)
    expected = lines[:start] + replacement + lines[stop:]
    assert _lines(child) == expected


@PROPERTY
@given(programs(), st.data())
def test_an_edit_changing_a_line_outside_every_body_is_rejected(program, data):
    lines = _lines(program)
    inside = set(body_line_indices(program))
    outside = [i for i in range(len(lines)) if i not in inside]
    target = data.draw(st.sampled_from(outside))
    start = data.draw(st.integers(max(0, target - 2), target))
    stop = data.draw(st.integers(target + 1, min(len(lines), target + 3)))
    window = lines[start:stop]
    changed = list(window)
    changed[target - start] += data.draw(st.sampled_from([" # changed", "!", "  "]))
    try:
        apply_search_replace(program, [SearchReplace(text(window), text(changed))])
    except EditError as error:
        expected = "outside_evolve_block" if occurrences(lines, window) == 1 else "ambiguous"
        assert error.kind == expected
        if expected == "outside_evolve_block":
            assert f"line {target + 1} " in error.reason
        return
    raise AssertionError("an edit outside the EVOLVE-BLOCK was applied")


@PROPERTY
@given(programs(), st.data())
def test_whatever_the_edit_it_is_rejected_or_outside_text_is_byte_identical(program, data):
    lines = _lines(program)
    start = data.draw(st.integers(0, len(lines) - 1))
    stop = data.draw(st.integers(start + 1, min(len(lines), start + 5)))
    window = lines[start:stop]
    if data.draw(st.booleans()):  # exercise the whitespace-tolerant path
        window = [("  " + line if line.strip() else line) for line in window]
    if data.draw(st.booleans()):
        replacement = list(window)
        replacement[data.draw(st.integers(0, len(window) - 1))] = data.draw(code_line)
    else:
        replacement = data.draw(st.lists(any_line, max_size=4))
    try:
        child = apply_search_replace(program, [SearchReplace(text(window), text(replacement))])
    except EditError as error:
        assert error.kind in EDIT_ERROR_KINDS
        return
    assert child != program
    assert outside_segments(child) == outside_segments(program)


@PROPERTY
@given(programs(), st.data())
def test_a_failing_later_block_rejects_the_whole_edit(program, data):
    lines = _lines(program)
    unique = [i for i in body_line_indices(program) if occurrences(lines, [lines[i]]) == 1]
    good = []
    if unique:
        i = data.draw(st.sampled_from(unique))
        good = [SearchReplace(text([lines[i]]), text([lines[i] + " # edited"]))]
    missing = SearchReplace("this line is not in the program @@\n", "x\n")
    try:
        apply_search_replace(program, [*good, missing])
    except EditError as error:
        assert error.kind == "search_not_found"
        assert error.block == len(good) + 1
        return
    raise AssertionError("an edit with a failing block was applied")


reply_line = code_line  # never a marker, divider or fence line


@PROPERTY
@given(
    st.lists(
        st.tuples(
            st.lists(reply_line, min_size=1, max_size=4).filter(
                lambda ls: any(x.strip() for x in ls)
            ),
            st.lists(reply_line, max_size=4),
        ),
        min_size=1,
        max_size=4,
    ),
    st.lists(st.text(alphabet="abc ,.!?", max_size=20), max_size=3),
)
def test_format_then_parse_round_trips_with_prose_around(pairs, prose):
    blocks = [SearchReplace(text(s), text(r)) for s, r in pairs]
    reply = "\n".join(prose) + "\n" + format_search_replace(blocks) + "\n".join(prose)
    assert parse_search_replace(reply) == blocks
    again = parse_search_replace(format_search_replace(parse_search_replace(reply)))
    assert again == blocks
