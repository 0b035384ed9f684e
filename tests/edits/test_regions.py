"""EVOLVE-BLOCK region detection and its error messages."""

from __future__ import annotations

import pytest

from evolve.edits import (
    MarkerError,
    evolve_regions,
    is_marker_line,
    region_bodies,
    require_evolve_regions,
    split_lines,
)
from tests.edits.programs import TWO_REGIONS


def test_regions_report_marker_lines_and_body_spans():
    code = "a = 1\n# EVOLVE-BLOCK-START\nb = 2\nc = 3\n# EVOLVE-BLOCK-END\nd = 4\n"
    (region,) = evolve_regions(code)
    assert (region.start_line, region.end_line) == (2, 5)
    assert (region.first_body_line, region.last_body_line) == (3, 4)
    assert region.body(code) == "b = 2\nc = 3\n"


def test_several_regions_with_indented_markers_are_found_in_order():
    bodies = region_bodies(TWO_REGIONS)
    assert len(bodies) == 2
    assert bodies[0].startswith("    a = -1.5e-3")
    assert bodies[1].startswith("def g(")
    assert "LIMIT = 10" not in "".join(bodies)


def test_adjacent_markers_give_an_empty_region():
    code = "# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-END\n"
    (region,) = evolve_regions(code)
    assert region.body(code) == ""
    assert region.start == region.end == len("# EVOLVE-BLOCK-START\n")


def test_marker_text_inside_a_code_line_is_not_a_marker():
    assert not is_marker_line('x = "# EVOLVE-BLOCK-START"')
    assert not is_marker_line("x = 1  # EVOLVE-BLOCK-START")
    assert is_marker_line("    # EVOLVE-BLOCK-START: tune the constants")
    assert evolve_regions('x = 1  # EVOLVE-BLOCK-START\ny = "# EVOLVE-BLOCK-END"\n') == []


def test_no_markers_is_empty_for_evolve_regions_but_an_error_when_required():
    assert evolve_regions("x = 1\n") == []
    with pytest.raises(MarkerError, match=r"initial\.py: no EVOLVE-BLOCK markers found"):
        require_evolve_regions("x = 1\n", source="initial.py")


@pytest.mark.parametrize(
    ("code", "line", "words"),
    [
        ("x = 1\n# EVOLVE-BLOCK-START\ny = 2\n", 2, "never closed"),
        (
            "# EVOLVE-BLOCK-END\n# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-END\n",
            1,
            "without a preceding",
        ),
        ("# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-END\n", 2, "cannot nest"),
    ],
)
def test_malformed_markers_name_the_problem_line_and_file(code, line, words):
    with pytest.raises(MarkerError) as info:
        evolve_regions(code, source="p/initial.py")
    assert info.value.line == line
    assert str(info.value).startswith(f"p/initial.py:{line}: ")
    assert words in str(info.value)
    assert "EVOLVE-BLOCK-END" in str(info.value)  # says how to fix it


def test_marker_error_is_a_value_error():
    assert issubclass(MarkerError, ValueError)


def test_split_lines_keeps_crlf_and_form_feeds_on_their_line():
    assert split_lines("a\r\nb\x0cc\nd") == ["a\r\n", "b\x0cc\n", "d"]
    assert "".join(split_lines("a\n\nb\n")) == "a\n\nb\n"
    assert split_lines("") == []


CPP = """#include <vector>
// EVOLVE-BLOCK-START
int score(int x) {
    return x / 2;  // EVOLVE-BLOCK-END inside a line is no marker
}
// EVOLVE-BLOCK-END
int main() { return score(4); }
"""


def test_other_languages_line_comments_mark_blocks_too():
    assert region_bodies(CPP) == [
        "int score(int x) {\n    return x / 2;  // EVOLVE-BLOCK-END inside a line is no marker\n}\n"
    ]
    for prefix in ("--", ";", "%", "//"):
        code = f"a\n{prefix} EVOLVE-BLOCK-START\nb\n  {prefix}EVOLVE-BLOCK-END: done\nc\n"
        assert region_bodies(code) == ["b\n"], prefix
    # Python's floor division at the start of a line is not valid Python, and a
    # division inside a line is never a marker.
    assert evolve_regions("x = 7 // 2  # EVOLVE-BLOCK-START\n") == []
