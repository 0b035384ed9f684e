"""What the meta writers read about an edit: who proposed it, what it changed,
and how it scored, in a few hundred characters.

The recorder reports every evaluated child and every rejected proposal
(``observe`` of ``MetaPrompting``) with ``at``, the number of programs the
database held before it; ``at`` orders outcomes the same way in any run of
the deterministic schedule, which is what lets a replay rebuild the same
prompts.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass
from typing import Any

from evolve.edits import MarkerError, region_bodies
from evolve.mutation.protocol import Proposal
from evolve.records import Program, Status

__all__ = ["EditOutcome", "edit_outcome"]


@dataclass(frozen=True)
class EditOutcome:
    """One proposal's result, as the meta writers see it."""

    at: int  # programs in the database before this outcome
    variant: str | None  # the system-prompt variant of its proposal
    gain: float | None  # child fitness minus parent fitness (None: no valid child)
    verdict: str  # "improved", "no better", "failed: ...", "rejected: ..."
    diff: str  # of the EVOLVE-BLOCK bodies, cut

    @property
    def improved(self) -> bool:
        return self.gain is not None and self.gain > 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EditOutcome:
        return cls(**data)


def edit_outcome(
    at: int,
    parent: Program,
    child: Program | None,
    proposal: Proposal | None,
    reason: str,
    diff_chars: int,
) -> EditOutcome:
    """The outcome of ``proposal`` on ``parent``: its evaluated ``child``, or
    (None) a rejection for ``reason``."""
    variant = None if proposal is None else proposal.prompt_variant
    if child is None:
        return EditOutcome(at, variant, None, f"rejected: {reason[:200]}", "")
    diff = _diff(parent.code, child.code, diff_chars)
    if child.status != Status.OK or child.fitness is None:
        why = (child.reason or str(child.status))[:200]
        return EditOutcome(at, variant, None, f"failed ({child.status}): {why}", diff)
    if parent.fitness is None:
        return EditOutcome(at, variant, None, f"scored {child.score:.6g}", diff)
    gain = child.fitness - parent.fitness
    word = "improved" if gain > 0 else "no better"
    verdict = f"{word}: score {parent.score:.6g} -> {child.score:.6g}"
    return EditOutcome(at, variant, gain, verdict, diff)


def _block_text(code: str) -> str:
    try:
        bodies = region_bodies(code)
    except MarkerError:
        return code
    return "\n".join(bodies) if bodies else code


def _diff(before: str, after: str, limit: int) -> str:
    lines = difflib.unified_diff(
        _block_text(before).splitlines(), _block_text(after).splitlines(), lineterm="", n=1
    )
    text = "\n".join(line for line in lines if not line.startswith(("---", "+++")))
    return text if len(text) <= limit else text[:limit] + "\n[... cut ...]"
