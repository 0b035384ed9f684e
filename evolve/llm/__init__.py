"""LLM mutation: an ensemble of OpenAI-compatible models behind the Proposer
protocol, with retries, token and cost accounting, a spend budget, and
record/replay of every completion.

Names are imported lazily so that reading a config (``evolve.llm.config``,
imported by the problem loader) does not pay for importing the openai client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "apply": ("LLM_EDIT_ERROR_KINDS", "apply_proposal", "extract_code"),
    "budget": ("Budget", "BudgetExhausted"),
    "client": ("CallOutcome", "CompletionClient", "ModelClient", "check_models"),
    "config": ("EditMix", "LLMConfig", "ModelSpec", "load_llm_config", "resolve_api_key"),
    "ensemble": ("Ensemble",),
    "errors": ("LLMCallFailed", "LLMFatalError", "ReplayMissing"),
    "proposer": ("LLMProposal", "LLMProposer", "choose_edit_kind"),
    "records": ("LLMCall", "prompt_hash"),
    "replay": ("RECORD_FILE", "Recorder", "ReplayClient", "ReplayRecord"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
_WHERE["PromptLimits"] = "config"

__all__ = [
    "LLM_EDIT_ERROR_KINDS",
    "RECORD_FILE",
    "Budget",
    "BudgetExhausted",
    "CallOutcome",
    "CompletionClient",
    "EditMix",
    "Ensemble",
    "LLMCall",
    "LLMCallFailed",
    "LLMConfig",
    "LLMFatalError",
    "LLMProposal",
    "LLMProposer",
    "ModelClient",
    "ModelSpec",
    "PromptLimits",
    "Recorder",
    "ReplayClient",
    "ReplayMissing",
    "ReplayRecord",
    "apply_proposal",
    "check_models",
    "choose_edit_kind",
    "extract_code",
    "load_llm_config",
    "prompt_hash",
    "resolve_api_key",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'evolve.llm' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"evolve.llm.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from evolve.llm.apply import LLM_EDIT_ERROR_KINDS, apply_proposal, extract_code
    from evolve.llm.budget import Budget, BudgetExhausted
    from evolve.llm.client import CallOutcome, CompletionClient, ModelClient, check_models
    from evolve.llm.config import (
        EditMix,
        LLMConfig,
        ModelSpec,
        PromptLimits,
        load_llm_config,
        resolve_api_key,
    )
    from evolve.llm.ensemble import Ensemble
    from evolve.llm.errors import LLMCallFailed, LLMFatalError, ReplayMissing
    from evolve.llm.proposer import LLMProposal, LLMProposer, choose_edit_kind
    from evolve.llm.records import LLMCall, prompt_hash
    from evolve.llm.replay import RECORD_FILE, Recorder, ReplayClient, ReplayRecord
