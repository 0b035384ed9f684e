"""Hypothesis strategies: programs with EVOLVE-BLOCK regions, and edits."""

from __future__ import annotations

import re
import string

from hypothesis import strategies as st

from evolve.edits import evolve_regions, is_marker_line

# Lines that the reply parser would read as structure, never used as code lines.
_SPECIAL = re.compile(r"^\s*(<{5,}|={5,}|>{5,}|```)")

code_line = st.builds(
    lambda indent, text: indent + text,
    st.sampled_from(["", "", "    ", "        ", "\t"]),
    st.text(alphabet=string.ascii_lowercase[:6] + "0123 =+-*()[]:#'\"", max_size=14),
).filter(lambda line: not is_marker_line(line) and not _SPECIAL.match(line))

# Few distinct lines, so repeated lines (ambiguous SEARCH texts) are common.
repetitive_line = st.sampled_from(["x = 1", "    x = 1", "y = x", "", "pass", "    return y"])

any_line = st.one_of(code_line, repetitive_line)


@st.composite
def programs(draw: st.DrawFn) -> str:
    """A program of 1-3 regions with code before, between and after them."""
    lines = draw(st.lists(any_line, max_size=4))
    for _ in range(draw(st.integers(1, 3))):
        lines.append(draw(st.sampled_from(["# EVOLVE-BLOCK-START", "    # EVOLVE-BLOCK-START"])))
        lines += draw(st.lists(any_line, min_size=1, max_size=6))
        lines.append(draw(st.sampled_from(["# EVOLVE-BLOCK-END", "  # EVOLVE-BLOCK-END  "])))
        lines += draw(st.lists(any_line, max_size=3))
    return "\n".join(lines) + ("\n" if draw(st.booleans()) else "")


def outside_segments(code: str) -> list[str]:
    """The text outside every region body, marker lines included, in order."""
    regions = evolve_regions(code)
    starts = [0] + [r.end for r in regions]
    ends = [r.start for r in regions] + [len(code)]
    return [code[a:b] for a, b in zip(starts, ends, strict=True)]


def body_line_indices(code: str) -> list[int]:
    """0-based indices of the lines inside region bodies."""
    return [i for r in evolve_regions(code) for i in range(r.start_line, r.end_line - 1)]


def occurrences(lines: list[str], window: list[str]) -> int:
    n = len(window)
    return sum(lines[i : i + n] == window for i in range(len(lines) - n + 1))


def text(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)
