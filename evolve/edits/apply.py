"""One entry point for every edit kind: the child program for a proposal."""

from __future__ import annotations

from typing import Literal, Protocol

from evolve.edits.errors import EditError
from evolve.edits.rewrite import apply_rewrite
from evolve.edits.search_replace import apply_edit

__all__ = ["EDIT_KINDS", "EditKind", "EditRequest", "apply_proposal"]

EditKind = Literal["diff", "rewrite", "crossover"]
# How a reply's text applies: SEARCH/REPLACE blocks, or a new EVOLVE-BLOCK body
# (a crossover is a rewrite that saw a second parent).
EDIT_KINDS: tuple[EditKind, ...] = ("diff", "rewrite", "crossover")


class EditRequest(Protocol):
    """What the edit engine needs of a proposal (``evolve.mutation.Proposal``
    has it): the reply text and how it applies. A protocol, so the edit engine
    knows nothing of who proposed the edit."""

    @property
    def text(self) -> str: ...

    @property
    def edit_kind(self) -> str: ...


def apply_proposal(parent_code: str, proposal: EditRequest) -> str:
    """The child program for ``proposal``, or ``EditError`` (never half-applied)."""
    if not proposal.text.strip():
        raise EditError(
            "empty_reply", "the model's reply was empty (no choices or no text); nothing to apply"
        )
    if proposal.edit_kind in ("rewrite", "crossover"):
        return apply_rewrite(parent_code, proposal.text)
    return apply_edit(parent_code, proposal.text)
