"""Prompts that evolve (``[meta]``): a system-prompt archive chosen by a bandit
on score gain, and a scratchpad of recommendations from recent edits, both
written by the LLM (``prompting``), from the outcomes the run reports
(``outcomes``), with the requests and replies of ``requests``."""

from evolve.mutation.meta.archive import ORIGINAL, PromptArchive, Variant
from evolve.mutation.meta.outcomes import EditOutcome, edit_outcome
from evolve.mutation.meta.prompting import NOTES_HEADING, MetaAsk, MetaPrompting
from evolve.mutation.meta.requests import (
    SCRATCHPAD_CALL,
    SCRATCHPAD_MARKER,
    WRITER_CALL,
    WRITER_MARKER,
    read_reply,
    scratchpad_messages,
    writer_messages,
)

__all__ = [
    "NOTES_HEADING",
    "ORIGINAL",
    "SCRATCHPAD_CALL",
    "SCRATCHPAD_MARKER",
    "WRITER_CALL",
    "WRITER_MARKER",
    "EditOutcome",
    "MetaAsk",
    "MetaPrompting",
    "PromptArchive",
    "Variant",
    "edit_outcome",
    "read_reply",
    "scratchpad_messages",
    "writer_messages",
]
