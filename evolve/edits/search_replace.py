"""SEARCH/REPLACE diffs: parse an LLM reply into blocks and apply them to a
parent program, or reject the edit with a machine-readable reason.

Edit format (the one LLMs are prompted with; prose and ``` fences around blocks
are ignored)::

    <<<<<<< SEARCH
    old lines, copied exactly from the program
    =======
    new lines
    >>>>>>> REPLACE

Application is strict and all-or-nothing, because a half-applied edit is a
program nobody asked for:

* blocks apply in order, each to the result of the previous one;
* a SEARCH matches whole lines. An exact match must be unique; only when there
  is none, a match that ignores trailing whitespace and a uniform indentation
  shift is used if unique, and the replacement is re-indented by the same shift;
* every changed line must lie inside an EVOLVE-BLOCK region of the parent.
  Unchanged context lines (even marker lines) may appear in SEARCH, but markers
  cannot be added, altered or removed;
* the child must differ from the parent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from evolve.edits.errors import EditError, editable_regions
from evolve.edits.regions import is_marker_line, split_lines

__all__ = [
    "SearchReplace",
    "apply_edit",
    "apply_search_replace",
    "format_search_replace",
    "looks_like_diff",
    "parse_search_replace",
]

_SEARCH_RE = re.compile(r"^\s*<{5,9}\s*SEARCH\s*$")
_DIVIDER_RE = re.compile(r"^\s*={5,9}\s*$")
_REPLACE_RE = re.compile(r"^\s*>{5,9}\s*REPLACE\s*$")
_FENCE_RE = re.compile(r"^\s*```[\w+.-]*\s*$")


@dataclass(frozen=True)
class SearchReplace:
    """One block: ``search`` and ``replace`` are whole lines, each ending in ``\\n``."""

    search: str
    replace: str


# -- parsing -------------------------------------------------------------------


def _section_text(lines: list[str]) -> str:
    # An LLM sometimes fences the code inside a section; a fence line is never
    # valid Python at the edge of a section, so dropping it loses nothing.
    if lines and _FENCE_RE.match(lines[0]):
        lines = lines[1:]
    if lines and _FENCE_RE.match(lines[-1]):
        lines = lines[:-1]
    return "".join(line + "\n" for line in lines)


def parse_search_replace(text: str) -> list[SearchReplace]:
    """All SEARCH/REPLACE blocks of an LLM reply, in order.

    Raises ``EditError`` ("no_blocks" or "malformed"). A ``=======`` line
    outside a block is ignored (it can be a Markdown heading underline); inside
    the REPLACE section it is replacement text.
    """
    blocks: list[SearchReplace] = []
    state = "prose"
    opened = 0
    search: list[str] = []
    replace: list[str] = []
    lines = text.replace("\r\n", "\n").split("\n")
    for number, line in enumerate(lines, start=1):
        if state == "prose":
            if _SEARCH_RE.match(line):
                state, opened, search = "search", number, []
            elif _REPLACE_RE.match(line):
                raise EditError(
                    "malformed",
                    f"reply line {number}: '>>>>>>> REPLACE' without an opening '<<<<<<< SEARCH'",
                    block=len(blocks) + 1,
                )
        elif state == "search":
            if _DIVIDER_RE.match(line):
                state, replace = "replace", []
            elif _SEARCH_RE.match(line) or _REPLACE_RE.match(line):
                raise EditError(
                    "malformed",
                    f"the block opened at reply line {opened} has no '=======' divider "
                    f"before reply line {number}; separate old and new lines with '======='",
                    block=len(blocks) + 1,
                )
            else:
                search.append(line)
        elif _REPLACE_RE.match(line):
            search_text = _section_text(search)
            if not search_text.strip():
                raise EditError(
                    "malformed",
                    f"the block opened at reply line {opened} has an empty SEARCH section; "
                    "copy the existing lines to change into it",
                    block=len(blocks) + 1,
                )
            blocks.append(SearchReplace(search_text, _section_text(replace)))
            state = "prose"
        elif _SEARCH_RE.match(line):
            raise EditError(
                "malformed",
                f"the block opened at reply line {opened} is not closed with "
                f"'>>>>>>> REPLACE' before the next SEARCH at reply line {number}",
                block=len(blocks) + 1,
            )
        else:
            replace.append(line)
    if state != "prose":
        missing = "'=======' divider" if state == "search" else "'>>>>>>> REPLACE' line"
        raise EditError(
            "malformed",
            f"the block opened at reply line {opened} is unterminated: missing its {missing}",
            block=len(blocks) + 1,
        )
    if not blocks:
        raise EditError(
            "no_blocks",
            "the reply contains no SEARCH/REPLACE block; answer with "
            "'<<<<<<< SEARCH', the old lines, '=======', the new lines, '>>>>>>> REPLACE'",
        )
    return blocks


def looks_like_diff(text: str) -> bool:
    """True if ``text`` holds a SEARCH line (a model that answered a rewrite
    request with a diff)."""
    return any(_SEARCH_RE.match(line) for line in text.replace("\r\n", "\n").split("\n"))


def format_search_replace(blocks: Sequence[SearchReplace]) -> str:
    """The reply text for ``blocks`` (inverse of ``parse_search_replace``)."""
    parts = []
    for block in blocks:
        search = block.search if block.search.endswith("\n") else block.search + "\n"
        replace = (
            block.replace
            if not block.replace or block.replace.endswith("\n")
            else block.replace + "\n"
        )
        parts.append(f"<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n")
    return "\n".join(parts)


# -- matching ------------------------------------------------------------------


def _content(line: str) -> str:
    """A line without its line ending."""
    if line.endswith("\n"):
        line = line[:-1]
    return line[:-1] if line.endswith("\r") else line


def _text_lines(text: str) -> list[str]:
    """Line contents of a SEARCH/REPLACE section; a final newline is optional."""
    return [_content(line) for line in split_lines(text)]


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _common_indent(lines: list[str]) -> str:
    """The longest whitespace prefix shared by every non-blank line."""
    indents = [_indent(line) for line in lines if line.strip()]
    if not indents:
        return ""
    shortest = min(indents, key=len)
    n = 0
    while n < len(shortest) and all(ind[n] == shortest[n] for ind in indents):
        n += 1
    return shortest[:n]


def _fuzzy_indents(window: list[str], search: list[str]) -> tuple[str, str] | None:
    """(window indent, search indent) if they match up to trailing whitespace and
    one uniform indentation shift; None otherwise."""
    w = [line.rstrip() for line in window]
    s = [line.rstrip() for line in search]
    if any(bool(a) != bool(b) for a, b in zip(w, s, strict=True)) or not any(s):
        return None
    wi, si = _common_indent(w), _common_indent(s)
    if all(a[len(wi) :] == b[len(si) :] for a, b in zip(w, s, strict=True) if a):
        return wi, si
    return None


def _reindent(lines: list[str], to: str, frm: str) -> list[str] | None:
    """Shift ``lines`` from indentation ``frm`` to ``to``; None if the two
    indents mix tabs and spaces incompatibly."""
    if to.startswith(frm):
        add = to[len(frm) :]
        return [add + line if line.strip() else "" for line in lines]
    if frm.startswith(to):
        drop = frm[len(to) :]
        return [
            (line[len(drop) :] if line.startswith(drop) else line.lstrip(" \t"))
            if line.strip()
            else ""
            for line in lines
        ]
    return None


def _find(lines: list[str], search: list[str], block: int) -> tuple[int, tuple[str, str] | None]:
    """Where ``search`` starts, and for a whitespace-tolerant match the
    (program indent, search indent) pair; raises unless exactly one match."""
    n = len(search)
    contents = [_content(line) for line in lines]
    exact = [i for i in range(len(lines) - n + 1) if contents[i : i + n] == search]
    if len(exact) == 1:
        return exact[0], None
    if not exact:
        fuzzy = []
        head = search[0].strip()
        for i in range(len(lines) - n + 1):
            if contents[i].strip() != head:
                continue
            indents = _fuzzy_indents(contents[i : i + n], search)
            if indents is not None:
                fuzzy.append((i, indents))
        if len(fuzzy) == 1:
            return fuzzy[0]
        exact = [i for i, _ in fuzzy]
    first = search[0].strip()[:60]
    if not exact:
        raise EditError(
            "search_not_found",
            f"block {block}: its SEARCH text (first line {first!r}) is not in the program; "
            "copy the lines exactly from the current program",
            block=block,
        )
    where = ", ".join(str(i + 1) for i in exact[:5])
    raise EditError(
        "ambiguous",
        f"block {block}: its SEARCH text (first line {first!r}) occurs {len(exact)} times "
        f"(at lines {where}); include more surrounding lines to make it unique",
        block=block,
    )


# -- applying ------------------------------------------------------------------


def _equal(a: str, b: str) -> bool:
    return a == b


def _equal_but_trailing_space(a: str, b: str) -> bool:
    return a.rstrip() == b.rstrip()


def apply_search_replace(parent_code: str, blocks: Sequence[SearchReplace]) -> str:
    """The child program, or ``EditError``; ``parent_code`` is never half-edited."""
    if not blocks:
        raise EditError("no_blocks", "no SEARCH/REPLACE block to apply")
    spans = [[r.start_line, r.end_line - 1] for r in editable_regions(parent_code)]
    growth = [0] * len(spans)  # lines each region gained so far, to report parent line numbers
    lines = split_lines(parent_code)

    def parent_line(i: int) -> int:
        return i + 1 - sum(g for (lo, hi), g in zip(spans, growth, strict=True) if hi <= i)

    for number, block in enumerate(blocks, start=1):
        search = _text_lines(block.search)
        if not search:
            raise EditError(
                "malformed", f"block {number} has an empty SEARCH section", block=number
            )
        start, indents = _find(lines, search, number)
        new = _text_lines(block.replace)
        same = _equal if indents is None else _equal_but_trailing_space
        if indents is not None:
            shifted = _reindent(new, *indents)
            if shifted is None:
                raise EditError(
                    "search_not_found",
                    f"block {number}: its SEARCH text matches only with a different mix of "
                    "tabs and spaces; copy the lines exactly",
                    block=number,
                )
            new = shifted
        old = [_content(line) for line in lines[start : start + len(search)]]
        # Trim unchanged context so only truly changed lines are checked and
        # rewritten (context lines keep their original bytes).
        p = 0
        while p < min(len(old), len(new)) and same(old[p], new[p]):
            p += 1
        s = 0
        while s < min(len(old), len(new)) - p and same(old[-1 - s], new[-1 - s]):
            s += 1
        lo, hi = start + p, start + len(old) - s
        inserted = new[p : len(new) - s]
        if lo == hi and not inserted:
            continue
        region = next((k for k, (a, b) in enumerate(spans) if a <= lo and hi <= b), None)
        if region is None:
            bad = next((i for i in range(lo, hi) if not any(a <= i < b for a, b in spans)), lo)
            text = _content(lines[bad]).strip()[:60] if bad < len(lines) else ""
            what = "changes line" if lo < hi else "inserts lines before line"
            raise EditError(
                "outside_evolve_block",
                f"block {number} {what} {parent_line(bad)} ({text!r}), which is outside "
                "every EVOLVE-BLOCK or is a marker line; only edit lines between "
                "'# EVOLVE-BLOCK-START' and '# EVOLVE-BLOCK-END'",
                block=number,
            )
        marker = next((line for line in inserted if is_marker_line(line)), None)
        if marker is not None:
            raise EditError(
                "outside_evolve_block",
                f"block {number} adds the marker line {marker.strip()!r}; EVOLVE-BLOCK "
                "markers cannot be added, moved or removed",
                block=number,
            )
        eol_from = lines[lo] if lo < len(lines) else lines[lo - 1]
        eol = "\r\n" if eol_from.endswith("\r\n") else "\n"
        lines[lo:hi] = [line + eol for line in inserted]
        delta = len(inserted) - (hi - lo)
        growth[region] += delta
        spans[region][1] += delta
        for later in spans[region + 1 :]:
            later[0] += delta
            later[1] += delta
    child = "".join(lines)
    if child == parent_code:
        raise EditError("noop", "the edit leaves the program unchanged; change at least one line")
    return child


def apply_edit(parent_code: str, edit_text: str) -> str:
    """Parse an LLM reply and apply its SEARCH/REPLACE blocks to ``parent_code``."""
    return apply_search_replace(parent_code, parse_search_replace(edit_text))
