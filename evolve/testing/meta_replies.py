"""The mutator server's answers to the ``[meta]`` writers' requests: a new
system-prompt variant, and scratchpad notes. The offline "model" cannot read
advice, so these only have to be well-formed and deterministic (the same
request, the same answer), which is what a test of the plumbing and of
``--record/--replay`` needs."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from evolve.mutation.meta import SCRATCHPAD_MARKER, WRITER_MARKER
from evolve.testing.wire import message_text

__all__ = ["meta_reply"]

FOCUSES = (
    "Prefer small, targeted edits: change one idea at a time.",
    "Try a different algorithmic strategy when small tweaks stop helping.",
    "Keep the code simple; remove what does not pay for itself.",
    "Check edge cases and numerical stability before tuning constants.",
)
_VARIANT = re.compile(
    r"^--- variant [^\n]*\n(.*?)(?=\n\n--- variant |\n\nRecent edits|\n\nNo edit)", re.S | re.M
)


def meta_reply(messages: Sequence[Mapping[str, Any]]) -> str | None:
    """The reply to a meta request, or None when the request is not one."""
    if not messages:
        return None
    system = message_text(messages[0])
    user = message_text(messages[-1])
    digest = int.from_bytes(hashlib.sha256(user.encode()).digest()[:4], "big")
    if system.startswith(WRITER_MARKER):
        found = _VARIANT.search(user)
        base = found.group(1).split("\n\nFocus:")[0].strip() if found else "Improve the program."
        return f"{base}\n\nFocus: {FOCUSES[digest % len(FOCUSES)]}"
    if system.startswith(SCRATCHPAD_MARKER):
        improved = user.count("\n- improved:")
        failed = user.count("\n- failed")
        rejected = user.count("\n- rejected:")
        flat = user.count("\n- no better:")
        total = improved + failed + rejected + flat
        return "\n".join(
            [
                f"- {improved} of {total} recent edits improved the score; build on them.",
                f"- {failed} failed when run and {rejected} were rejected: keep edits valid.",
                f"- {flat} changed nothing measurable: {FOCUSES[digest % len(FOCUSES)]}",
            ]
        )
    return None
