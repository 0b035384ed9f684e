"""Full rewrites (``rewrite`` and ``crossover`` edits): a python code block
holding the new program, or just the new EVOLVE-BLOCK body.

Only the region bodies are taken from the reply; the text outside the regions
stays the parent's, so a rewrite can never change fixed code. The child must
parse (unless the parent does not either: then the scorer judges). Every
failure is an ``EditError`` with a kind, so the controller records the
rejection like any other.
"""

from __future__ import annotations

import ast
import re

from evolve.edits.errors import EditError, editable_regions
from evolve.edits.regions import MarkerError, evolve_regions, is_marker_line, split_lines
from evolve.edits.search_replace import apply_edit, looks_like_diff

__all__ = ["apply_rewrite", "extract_code", "replace_evolve_block"]

_BLOCK_RE = re.compile(r"^[ \t]*```[ \t]*([\w+.-]*)[^\n]*\n(.*?)^[ \t]*```[ \t]*$", re.M | re.S)


def extract_code(reply: str) -> str | None:
    """The program in a reply: among python (or untagged) fenced blocks, the
    last one holding EVOLVE-BLOCK markers, else the longest; None if none."""
    blocks = [
        m.group(2)
        for m in _BLOCK_RE.finditer(reply)
        if m.group(1).lower() in ("", "python", "py", "python3")
    ]
    if not blocks:
        return None
    marked = [b for b in blocks if _has_markers(b)]
    if marked:
        return marked[-1]
    return max(blocks, key=len)


def _has_markers(code: str) -> bool:
    try:
        return bool(evolve_regions(code))
    except MarkerError:
        return True  # malformed markers: still the block meant as the program


def _indent_of(text: str) -> str:
    lines = [line for line in split_lines(text) if line.strip()]
    if not lines:
        return ""
    first = lines[0]
    return first[: len(first) - len(first.lstrip(" \t"))]


def _reindent(body: str, indent: str) -> str:
    """Indent a bare body given at column 0 to the region's indentation."""
    if not indent or _indent_of(body):
        return body
    return "".join(indent + line if line.strip() else line for line in split_lines(body))


def apply_rewrite(parent_code: str, reply: str) -> str:
    """The child for a rewrite/crossover reply (see the module docstring)."""
    code = extract_code(reply)
    if code is None:
        if looks_like_diff(reply):  # the model answered with a diff instead
            return apply_edit(parent_code, reply)
        raise EditError(
            "no_code_block",
            "the reply holds no complete ```python code block (a reply cut off at "
            "max_tokens has no closing fence); answer with the complete new program "
            "in one ```python block",
        )
    parent_regions = editable_regions(parent_code)
    try:
        regions = evolve_regions(code)
    except MarkerError as exc:
        raise EditError(
            "outside_evolve_block", f"the new program's EVOLVE-BLOCK markers are malformed ({exc})"
        ) from exc
    if not regions:
        if len(parent_regions) != 1:
            raise EditError(
                "outside_evolve_block",
                f"the parent has {len(parent_regions)} EVOLVE-BLOCK regions and the reply "
                "marks none; answer with the complete program including its markers",
            )
        indent = _indent_of(parent_regions[0].body(parent_code))
        child = replace_evolve_block(parent_code, _reindent(code, indent))
    elif len(regions) != len(parent_regions):
        raise EditError(
            "outside_evolve_block",
            f"the reply has {len(regions)} EVOLVE-BLOCK regions but the parent has "
            f"{len(parent_regions)}; keep every marker line of the parent",
        )
    else:
        child = parent_code
        for index, region in enumerate(regions):
            try:
                child = replace_evolve_block(child, region.body(code), index)
            except EditError as exc:
                if exc.kind != "noop":
                    raise
        if child == parent_code:
            raise EditError("noop", "the rewritten program equals the current one")
    _check_syntax(parent_code, child)
    return child


def _check_syntax(parent_code: str, child: str) -> None:
    try:
        ast.parse(child)
    except SyntaxError as exc:
        try:
            ast.parse(parent_code)
        except SyntaxError:
            return  # the parent does not parse either; let the scorer judge
        raise EditError(
            "syntax",
            f"the rewritten program does not parse: line {exc.lineno}: {exc.msg}; "
            "send the complete, valid program",
        ) from None


def replace_evolve_block(parent_code: str, new_block_text: str, index: int = 0) -> str:
    """Replace the body of region ``index`` with ``new_block_text`` (a full rewrite).

    ``new_block_text`` is the new body; if it still carries one pair of
    START/END markers (LLMs often echo them), the text between them is used.
    """
    spans = editable_regions(parent_code)
    if not 0 <= index < len(spans):
        raise EditError(
            "no_evolve_block",
            f"region index {index} is out of range: the parent has {len(spans)} region(s)",
        )
    body = new_block_text
    if any(is_marker_line(line) for line in split_lines(body)):
        try:
            inner = evolve_regions(body)
        except MarkerError as exc:
            raise EditError(
                "outside_evolve_block", f"the new block's markers are malformed ({exc})"
            ) from exc
        if len(inner) != 1:
            raise EditError(
                "outside_evolve_block",
                f"the new block holds {len(inner)} EVOLVE-BLOCK regions; send only the code of one",
            )
        body = inner[0].body(body)
    if body and not body.endswith("\n"):
        body += "\n"
    region = spans[index]
    child = parent_code[: region.start] + body + parent_code[region.end :]
    if child == parent_code:
        raise EditError("noop", "the rewritten block equals the current one")
    return child
