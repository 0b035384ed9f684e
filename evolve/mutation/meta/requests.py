"""The two meta requests and how their replies are read.

Each request's system message starts with its marker, so ``evolve mutator
serve`` can tell it from a proposal and answer it deterministically, and its
record (edit_kind ``prompt_writer`` or ``scratchpad``) is set apart from the
proposals. Inputs are bounded (the archive's size, a fixed number of edits,
each diff cut), replies are cut to the configured length.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from evolve.mutation.meta.outcomes import EditOutcome

__all__ = [
    "SCRATCHPAD_CALL",
    "SCRATCHPAD_MARKER",
    "WRITER_CALL",
    "WRITER_MARKER",
    "VariantRecord",
    "read_reply",
    "scratchpad_messages",
    "writer_messages",
]

WRITER_MARKER = "[evolve prompt writer]"
SCRATCHPAD_MARKER = "[evolve scratchpad]"
WRITER_CALL = "prompt_writer"  # the edit_kind of a variant-writing call's record
SCRATCHPAD_CALL = "scratchpad"
_FENCE = re.compile(r"^```[\w-]*\n(.*?)\n```\s*$", re.DOTALL)


@dataclass(frozen=True)
class VariantRecord:
    """A variant as the writer sees it: its text and how its children did."""

    id: str
    text: str
    children: int
    mean_gain: float


def writer_messages(
    objective: str, variants: Sequence[VariantRecord], worked: Sequence[EditOutcome]
) -> list[dict[str, str]]:
    """Ask for one new system prompt, from the variants' records and the edits that worked."""
    system = (
        f"{WRITER_MARKER} You write system prompts for the LLM that proposes code edits in "
        f"an evolutionary program search (objective: {objective}). Read the current system "
        "prompts with the record of the edits each produced, and the recent edits that "
        "improved the score. Write ONE new system prompt that keeps what the best one says "
        "and adds the most useful guidance you can infer. Answer with the prompt text only."
    )
    parts = ["Current system prompts, best first:"]
    for variant in variants:
        parts.append(
            f"--- variant {variant.id}: {variant.children} children, mean score gain "
            f"{variant.mean_gain:.6g}\n{variant.text}"
        )
    parts.append("Recent edits that improved the score:" if worked else "No edit improved yet.")
    parts.extend(f"- {o.verdict}\n{o.diff}" for o in worked)
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


def scratchpad_messages(
    objective: str, previous: str, outcomes: Sequence[EditOutcome]
) -> list[dict[str, str]]:
    """Ask for short recommendations from the recent successful and failed edits."""
    system = (
        f"{SCRATCHPAD_MARKER} You keep the notes of an evolutionary program search "
        f"(objective: {objective}). From the recent edits below, what improved the score "
        "and what failed (errors, regressions), write at most 8 short bullet points of "
        "advice for the next edits: what to try, what to avoid. Answer with the bullets only."
    )
    parts = [f"Previous notes:\n{previous}" if previous else "No notes yet."]
    parts.append("Recent edits:")
    parts.extend(f"- {o.verdict}\n{o.diff}".rstrip() for o in outcomes)
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


def read_reply(reply: str | None, max_chars: int) -> str | None:
    """The text of a writer's reply: one surrounding code fence removed, cut to
    ``max_chars`` at a line end; None when nothing usable came back."""
    if reply is None:
        return None
    text = reply.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    text = text.replace("```", "` ` `")  # never a fence inside the prompt it joins
    if len(text) > max_chars:
        cut = text[:max_chars]
        text = cut[: cut.rfind("\n")] if "\n" in cut else cut
    return text.strip() or None
