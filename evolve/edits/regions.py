"""EVOLVE-BLOCK regions: the parts of a program evolution is allowed to change.

A region is the text strictly between a ``# EVOLVE-BLOCK-START`` line and the
next ``# EVOLVE-BLOCK-END`` line. Markers are whole comment lines (leading
whitespace and trailing text allowed, e.g. ``    # EVOLVE-BLOCK-START: tune me``);
a marker inside a code line (``x = 1  # EVOLVE-BLOCK-START``) is not a marker.
Several regions are allowed, nesting is not.

The comment may be any language's line comment (``#``, ``//``, ``--``, ``;``,
``%``: Python and shell, C/C++/Rust/Go/JavaScript, Lua/SQL/Haskell, Lisp/asm,
MATLAB/LaTeX), so ``// EVOLVE-BLOCK-START`` marks a C++ or Rust block. No
valid Python line starts with any of the others, so a Python program's regions
are the same whichever are recognised.

Lines are split on ``"\\n"`` only (a ``"\\r\\n"`` ending stays on its line), the
same convention the edit engine uses, so line numbers agree everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "COMMENT_PREFIXES",
    "END_MARKER",
    "START_MARKER",
    "MarkerError",
    "Region",
    "evolve_regions",
    "is_marker_line",
    "region_bodies",
    "require_evolve_regions",
    "split_lines",
]

START_MARKER = "# EVOLVE-BLOCK-START"
END_MARKER = "# EVOLVE-BLOCK-END"

COMMENT_PREFIXES = ("#", "//", "--", ";", "%")  # line comments a marker may use
_MARKER_RE = re.compile(r"^[ \t\f]*(?:#|//|--|;|%)\s*EVOLVE-BLOCK-(START|END)\b")
_HOW_TO_MARK = f"put '{START_MARKER}' and '{END_MARKER}' on their own lines around the code"


class MarkerError(ValueError):
    """EVOLVE-BLOCK markers are missing or malformed.

    ``line`` is the 1-based line the problem was found at (None when it is the
    whole file), ``source`` the file name given by the caller, if any.
    """

    def __init__(self, message: str, *, line: int | None = None, source: str | None = None):
        where = (
            f"{source}:{line}" if source and line else (source or (f"line {line}" if line else ""))
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.line = line
        self.source = source
        self.detail = message


@dataclass(frozen=True)
class Region:
    """One editable region.

    Line numbers are 1-based and refer to the marker lines; the editable body
    is lines ``start_line + 1 .. end_line - 1`` (empty when adjacent).
    ``start``/``end`` are character offsets of the body: ``code[start:end]``
    is the body text, including its final newline.
    """

    start_line: int
    end_line: int
    start: int
    end: int

    @property
    def first_body_line(self) -> int:
        return self.start_line + 1

    @property
    def last_body_line(self) -> int:
        return self.end_line - 1

    def body(self, code: str) -> str:
        return code[self.start : self.end]


def split_lines(text: str) -> list[str]:
    """Lines of ``text`` with their ``"\\n"`` kept; the last may lack one.

    Unlike ``str.splitlines`` this never splits on form feeds or Unicode line
    separators that may legitimately sit inside a string literal.
    """
    if not text:
        return []
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def is_marker_line(line: str) -> bool:
    """True if ``line`` is an EVOLVE-BLOCK START or END marker line."""
    return _MARKER_RE.match(line) is not None


def _marker_kind(line: str) -> str | None:
    m = _MARKER_RE.match(line)
    return m.group(1) if m else None


def evolve_regions(code: str, source: str | None = None) -> list[Region]:
    """The EVOLVE-BLOCK regions of ``code``, in order; ``[]`` when it has no markers.

    Raises ``MarkerError`` for an END before any START, a START inside an open
    region (nesting), or a START never closed. No markers at all is not an
    error here (a caller may allow it); use ``require_evolve_regions`` to insist.
    """
    regions: list[Region] = []
    open_line = 0  # 1-based line of the open START, 0 when none is open
    open_offset = 0
    offset = 0
    for number, line in enumerate(split_lines(code), start=1):
        kind = _marker_kind(line)
        if kind == "START":
            if open_line:
                raise MarkerError(
                    f"'{START_MARKER}' inside the block opened at line {open_line} "
                    f"(blocks cannot nest); add '{END_MARKER}' before line {number} "
                    "or delete one of the START lines",
                    line=number,
                    source=source,
                )
            open_line, open_offset = number, offset + len(line)
        elif kind == "END":
            if not open_line:
                raise MarkerError(
                    f"'{END_MARKER}' without a preceding '{START_MARKER}'; add a START "
                    "line above the code to evolve or delete this END line",
                    line=number,
                    source=source,
                )
            regions.append(Region(open_line, number, open_offset, offset))
            open_line = 0
        offset += len(line)
    if open_line:
        raise MarkerError(
            f"'{START_MARKER}' is never closed; add a '{END_MARKER}' line after "
            "the last line of the block",
            line=open_line,
            source=source,
        )
    return regions


def require_evolve_regions(code: str, source: str | None = None) -> list[Region]:
    """Like ``evolve_regions`` but a program without any region is an error.

    The problem loader calls this on the seed: a seed without markers would give
    evolution nothing to edit, which is better reported before a run starts.
    """
    regions = evolve_regions(code, source)
    if not regions:
        raise MarkerError(
            f"no EVOLVE-BLOCK markers found; {_HOW_TO_MARK} evolution may change", source=source
        )
    return regions


def region_bodies(code: str, source: str | None = None) -> list[str]:
    """The body text of every region, in order (for prompts and crossover)."""
    return [r.body(code) for r in evolve_regions(code, source)]
