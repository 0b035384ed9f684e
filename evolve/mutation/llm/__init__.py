"""LLM mutation: an ensemble of OpenAI-compatible models behind the Proposer
protocol, with retries, token and cost accounting, a spend budget, and
record/replay of every completion.

``client`` makes one call (retries, usage, the error mapping); ``ensemble``
chooses a model (weights or a UCB bandit); ``budget`` stops at the spend
limit; ``replay`` records completions and answers from a record; ``calls`` is
the ``LLMCall`` record the store keeps; ``proposer`` puts it all behind the
``Proposer`` protocol. The [llm] table these read is ``evolve.config.llm``.

May import ``config``, ``records``, ``mutation.protocol`` and
``mutation.prompts``; never the database, store or sandboxes.
"""

from evolve.mutation.llm.budget import Budget
from evolve.mutation.llm.calls import LLMCall, prompt_hash
from evolve.mutation.llm.client import CallOutcome, CompletionClient, ModelClient, check_models
from evolve.mutation.llm.ensemble import Ensemble
from evolve.mutation.llm.errors import LLMCallFailed, LLMFatalError, ReplayMissing
from evolve.mutation.llm.proposer import LLMProposal, LLMProposer, choose_edit_kind
from evolve.mutation.llm.replay import RECORD_FILE, Recorder, ReplayClient, ReplayRecord

__all__ = [
    "RECORD_FILE",
    "Budget",
    "CallOutcome",
    "CompletionClient",
    "Ensemble",
    "LLMCall",
    "LLMCallFailed",
    "LLMFatalError",
    "LLMProposal",
    "LLMProposer",
    "ModelClient",
    "Recorder",
    "ReplayClient",
    "ReplayMissing",
    "ReplayRecord",
    "check_models",
    "choose_edit_kind",
    "prompt_hash",
]
