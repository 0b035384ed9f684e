"""How an edit is rejected: ``EditError`` and the closed list of its kinds.

A rejection is data, not a crash: the controller records its kind and reason
and the run goes on; the reason is written for people and for the LLM's next
prompt alike. Every part of the edit engine raises this one type.
"""

from __future__ import annotations

from evolve.edits.regions import MarkerError, Region, evolve_regions

__all__ = ["EDIT_ERROR_KINDS", "EditError", "editable_regions"]

EDIT_ERROR_KINDS = (
    "no_blocks",  # the reply holds no SEARCH/REPLACE block
    "malformed",  # a block is unterminated, lacks its divider, or has an empty SEARCH
    "search_not_found",  # a SEARCH text is not in the program
    "ambiguous",  # a SEARCH text occurs more than once
    "outside_evolve_block",  # a change touches a line outside every region, or a marker
    "noop",  # the child equals the parent
    "no_evolve_block",  # the parent has no (well-formed) EVOLVE-BLOCK region
    "empty_reply",  # the model sent no text (rewrite/crossover and diff alike)
    "no_code_block",  # a rewrite reply holds no python code block
    "syntax",  # a rewritten program does not parse
)


class EditError(ValueError):
    """An edit was rejected. ``kind`` is one of ``EDIT_ERROR_KINDS`` (for
    counting and recording), ``reason`` says what and how to fix it (for
    people and for feeding back to the LLM), ``block`` is the 1-based block
    number when one block is at fault."""

    def __init__(self, kind: str, reason: str, *, block: int | None = None) -> None:
        if kind not in EDIT_ERROR_KINDS:
            raise ValueError(f"unknown edit error kind {kind!r}; add it to EDIT_ERROR_KINDS")
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason
        self.block = block


def editable_regions(parent_code: str) -> list[Region]:
    """The parent's EVOLVE-BLOCK regions, or the rejection every edit kind gives
    a parent without well-formed ones."""
    try:
        regions = evolve_regions(parent_code)
    except MarkerError as exc:
        raise EditError(
            "no_evolve_block", f"the parent's EVOLVE-BLOCK markers are malformed ({exc})"
        ) from exc
    if not regions:
        raise EditError("no_evolve_block", "the parent has no EVOLVE-BLOCK region to edit")
    return regions
