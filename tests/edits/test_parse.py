"""Parsing SEARCH/REPLACE blocks out of LLM replies."""

from __future__ import annotations

import pytest

from evolve.edits import EditError, SearchReplace, format_search_replace, parse_search_replace


def test_blocks_are_found_among_prose_and_fences():
    reply = (
        "I will tune the step size.\n\n"
        "```python\n"
        "<<<<<<< SEARCH\n"
        "    step = 0.5\n"
        "=======\n"
        "    step = 0.25\n"
        ">>>>>>> REPLACE\n"
        "```\n\n"
        "And the loop:\n"
        "<<<<<<< SEARCH\n"
        "for i in range(3):\n"
        "    pass\n"
        "=======\n"
        ">>>>>>> REPLACE\n"
        "Done.\n"
    )
    assert parse_search_replace(reply) == [
        SearchReplace("    step = 0.5\n", "    step = 0.25\n"),
        SearchReplace("for i in range(3):\n    pass\n", ""),
    ]


def test_fences_inside_a_section_are_dropped():
    reply = "<<<<<<< SEARCH\n```python\nx = 1\n```\n=======\n```\nx = 2\n```\n>>>>>>> REPLACE\n"
    assert parse_search_replace(reply) == [SearchReplace("x = 1\n", "x = 2\n")]


def test_crlf_replies_parse_like_lf_replies():
    reply = "<<<<<<< SEARCH\r\nx = 1\r\n=======\r\nx = 2\r\n>>>>>>> REPLACE\r\n"
    assert parse_search_replace(reply) == [SearchReplace("x = 1\n", "x = 2\n")]


def test_a_divider_line_outside_blocks_is_prose_and_inside_replace_is_text():
    reply = "Title\n=======\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n=======\n>>>>>>> REPLACE\n"
    assert parse_search_replace(reply) == [SearchReplace("x = 1\n", "x = 2\n=======\n")]


@pytest.mark.parametrize(
    ("reply", "kind", "words"),
    [
        ("Just prose, no edit.", "no_blocks", "no SEARCH/REPLACE block"),
        ("", "no_blocks", "no SEARCH/REPLACE block"),
        ("<<<<<<< SEARCH\nx = 1\n>>>>>>> REPLACE\n", "malformed", "no '=======' divider"),
        ("<<<<<<< SEARCH\nx = 1\n", "malformed", "missing its '=======' divider"),
        ("<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n", "malformed", "missing its '>>>>>>> REPLACE'"),
        ("<<<<<<< SEARCH\n=======\nx = 2\n>>>>>>> REPLACE\n", "malformed", "empty SEARCH"),
        (">>>>>>> REPLACE\n", "malformed", "without an opening"),
        (
            "<<<<<<< SEARCH\na\n=======\nb\n<<<<<<< SEARCH\nc\n=======\nd\n>>>>>>> REPLACE\n",
            "malformed",
            "not closed",
        ),
    ],
)
def test_bad_replies_are_rejected_with_a_kind_and_reason(reply, kind, words):
    with pytest.raises(EditError) as info:
        parse_search_replace(reply)
    assert info.value.kind == kind
    assert words in info.value.reason
    assert str(info.value).startswith(kind)


def test_format_then_parse_round_trips():
    blocks = [SearchReplace("a = 1\n  b\n", ""), SearchReplace("c\n", "d\ne\n")]
    assert parse_search_replace(format_search_replace(blocks)) == blocks


def test_format_adds_missing_final_newlines():
    text = format_search_replace([SearchReplace("a = 1", "a = 2")])
    assert parse_search_replace(text) == [SearchReplace("a = 1\n", "a = 2\n")]
