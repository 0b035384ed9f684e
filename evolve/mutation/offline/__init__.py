"""The offline mutator: real edits by program transformation, no LLM and no
network, answered in the same SEARCH/REPLACE format an LLM uses.

``operators`` are the transformations (perturb a constant, swap an operator,
drop or duplicate a statement, splice from an inspiration); ``mutator`` picks
and checks them; ``proposer`` puts the mutator behind the ``Proposer``
protocol. Imports ``edits`` and ``mutation.protocol`` only.
"""

from evolve.mutation.offline.mutator import (
    DEFAULT_WEIGHTS,
    OfflineMutator,
    extract_programs,
    propose_for_messages,
    propose_for_prompt,
)
from evolve.mutation.offline.proposer import OfflineProposer

__all__ = [
    "DEFAULT_WEIGHTS",
    "OfflineMutator",
    "OfflineProposer",
    "extract_programs",
    "propose_for_messages",
    "propose_for_prompt",
]
