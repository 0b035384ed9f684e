"""Mutation: turning a parent (and inspirations) into a proposed edit.

Owns the ``Proposer`` protocol the controller talks to, with its ``Proposal``
and ``MutationError`` (``protocol``); its implementations, the offline mutator
(``offline/``: program transformation, no network) and the LLM ensemble
(``llm/``: any OpenAI-compatible API); the prompts an LLM is shown
(``prompts/``); and the choice of a run's proposer from its settings
(``setup``).

May import ``records``, ``edits`` (a proposal is checked against the edit
engine), ``config`` (the [llm] table, the problem) and the standard library;
never the database, the store, sandboxes or executors: a proposer gets a
parent and inspirations, not the population. This ``__init__`` exports only
the abstract side, so importing it costs no HTTP client.
"""

from evolve.mutation.protocol import BudgetExhausted, MutationError, Proposal, Proposer

__all__ = ["BudgetExhausted", "MutationError", "Proposal", "Proposer"]
