"""Mutation: turning a parent (and inspirations) into an edit.

The offline mutator lives here; an LLM-backed mutator produces the same kind of
reply text, so everything downstream (``evolve.edits``) is shared.
"""

from evolve.mutation.offline import (
    MutationError,
    OfflineMutator,
    extract_programs,
    propose_for_messages,
    propose_for_prompt,
)

__all__ = [
    "MutationError",
    "OfflineMutator",
    "extract_programs",
    "propose_for_messages",
    "propose_for_prompt",
]
