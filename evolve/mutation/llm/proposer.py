"""The LLM ensemble as a Proposer: choose an edit kind and a model from the
proposal's seed, build the prompt, call the model, account for the call.

What ``propose`` raises, and what the controller should do:

* ``BudgetExhausted`` - stop the run cleanly (finish what is in flight);
* ``LLMCallFailed`` (a ``MutationError``) - no reply for this proposal after
  retries, or a 400; record a rejection and go on;
* ``LLMFatalError`` (a ``ConfigError``) - bad key / URL / model, or a replay
  record that lacks the request; stop the run and report it.

Cancelling ``propose`` (the run stops) cancels the call in flight; the call
is kept in ``calls`` as cancelled (see ``calls.CANCELLED``) and the
cancellation propagates: the proposal gave neither an edit nor a rejection.

A reply that arrived but is unusable (no choices, no text, no edit blocks) is
NOT raised here: ``propose`` returns it, and ``apply_proposal`` rejects it
with an ``EditError``, so every bad reply is recorded the same way, with the
call id of the proposal that produced it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolve.config import EditMix, LLMConfig
from evolve.mutation.llm.budget import Budget
from evolve.mutation.llm.calls import LLMCall
from evolve.mutation.llm.client import CompletionClient, Messages, ModelClient
from evolve.mutation.llm.embeddings import EmbeddingClient, EmbeddingOutcome
from evolve.mutation.llm.ensemble import Ensemble
from evolve.mutation.llm.errors import LLMCallFailed, LLMFatalError
from evolve.mutation.llm.replay import Recorder, ReplayClient, ReplayRecord
from evolve.mutation.meta import MetaPrompting
from evolve.mutation.prompts import PromptBuilder
from evolve.mutation.protocol import Proposal
from evolve.records import Program

__all__ = ["LLMProposal", "LLMProposer", "choose_edit_kind"]


@dataclass(frozen=True)
class LLMProposal(Proposal):
    """A Proposal that also names the request behind it (for record/replay and
    for telling a truncated reply from a malformed one)."""

    prompt_hash: str = ""
    finish_reason: str | None = None


def choose_edit_kind(rng: random.Random, mix: EditMix, has_partner: bool) -> str:
    """diff / rewrite / crossover by ``mix``; crossover without a second parent is a diff."""
    weights = mix.as_dict()
    kind = rng.choices(list(weights), weights=list(weights.values()))[0]
    return "diff" if kind == "crossover" and not has_partner else kind


class LLMProposer:
    """Proposes edits with an ensemble of OpenAI-compatible models."""

    name = "llm"

    def __init__(
        self,
        config: LLMConfig,
        prompts: PromptBuilder,
        clients: Mapping[str, CompletionClient],
        *,
        budget: Budget | None = None,
        recorder: Recorder | None = None,
        embedder: EmbeddingClient | None = None,
    ) -> None:
        missing = [m.key for m in config.models if m.key not in clients]
        if missing:
            raise ValueError(f"no client for model(s) {missing}")
        self.config = config
        self.prompts = prompts
        self.clients = dict(clients)
        self.budget = budget or Budget(config.budget_usd, config.budget_tokens)
        self.recorder = recorder
        self.ensemble = Ensemble(config.models, config.selection, config.ucb_exploration)
        self.calls: list[LLMCall] = []  # drained by the controller into the store
        self.embedder = embedder
        self.meta: MetaPrompting | None = None  # [meta]: evolved system prompts, scratchpad

    @classmethod
    def create(
        cls,
        config: LLMConfig,
        prompts: PromptBuilder,
        *,
        record_path: str | Path | None = None,
        replay_path: str | Path | None = None,
        jitter_seed: int = 0,
    ) -> LLMProposer:
        """Live clients (keys resolved now: an unset variable fails here), or
        replay clients answering from ``replay_path`` with no network."""
        budget = Budget(config.budget_usd, config.budget_tokens)
        clients: dict[str, CompletionClient] = {}
        if replay_path is not None:
            record = ReplayRecord(replay_path)
            for spec in config.models:
                clients[spec.key] = ReplayClient(spec, record)
        else:
            limiter = asyncio.Semaphore(config.max_concurrency)
            for i, spec in enumerate(config.models):
                clients[spec.key] = ModelClient(
                    spec, config, limiter=limiter, budget=budget, jitter_seed=jitter_seed + i
                )
        recorder = Recorder(record_path) if record_path is not None else None
        proposer = cls(config, prompts, clients, budget=budget, recorder=recorder)
        if config.embedding is not None and replay_path is None:
            proposer.embedder = EmbeddingClient(
                config.embedding, config, proposer._account, budget=budget, jitter_seed=jitter_seed
            )
        return proposer

    async def propose(
        self, parent: Program, inspirations: Sequence[Program], seed: int, *, at: int = 0
    ) -> LLMProposal:
        """One proposal; see the module docstring for what it raises."""
        self.budget.check()
        rng = random.Random(seed)
        kind = choose_edit_kind(rng, self.config.edit_mix, has_partner=bool(inspirations))
        spec = self.ensemble.choose(rng)
        system, variant = None, None
        if self.meta is not None:
            try:
                system, variant = await self.meta.system_for(rng, at)
            except asyncio.CancelledError:
                self.ensemble.withdraw(spec.key)
                raise
        built = self.prompts.build(parent, inspirations, kind, system=system)
        try:
            outcome = await self.clients[spec.key].complete(
                built.messages, seed=seed, edit_kind=built.edit_kind, on_cancel=self._account
            )
        except asyncio.CancelledError:
            # The run stopped while the model was answering: the proposal never
            # happened (its iteration is redone on resume), but the request was
            # sent, so its record stays. It is not written to the replay record:
            # a replay must not answer the redone request with a cancellation.
            self.ensemble.withdraw(spec.key)
            raise
        call = outcome.call
        if variant is not None:
            call = dataclasses.replace(call, prompt_variant=variant)
        self._account(call)
        if outcome.verdict == "fatal":
            keyvar = f"${spec.api_key_env}" if spec.api_key_env else "no key"
            raise LLMFatalError(
                f"model {spec.key!r} at {spec.base_url} ({keyvar}): {call.error}; fix the "
                "model name, base_url or key and resume the run"
            )
        text = outcome.text or ""
        if self.recorder is not None and not call.replayed:
            self.recorder.write(call, text)
        if outcome.verdict == "fail":
            # The call id in the text too: the controller records only the
            # message of a proposal that failed, and a trace export joins the
            # rejection to its llm_calls row by it.
            raise LLMCallFailed(
                f"model {spec.key!r} (llm call {call.id}): {call.error}", call_id=call.id
            )
        return LLMProposal(
            text=text,
            model=spec.key,
            edit_kind=built.edit_kind,
            llm_call_id=call.id,
            extra_parent_ids=() if built.second_parent_id is None else (built.second_parent_id,),
            prompt_hash=call.prompt_hash,
            finish_reason=call.finish_reason,
            prompt_variant=variant,
        )

    async def ask(self, model: str, messages: Messages, seed: int, purpose: str) -> str | None:
        """One chat call to ``model`` (a key of the ensemble) for ``purpose`` (its
        records' edit_kind): the reply text, or None when none came. Accounted,
        recorded and replayed like a proposal; a wrong key, URL or model raises
        ``LLMFatalError``."""
        self.budget.check()
        if model not in self.clients:
            raise LLMFatalError(f"{purpose}: no model {model!r} in the [llm] table")
        client = self.clients[model]
        outcome = await client.complete(
            messages, seed=seed, edit_kind=purpose, on_cancel=self._account
        )
        self._account(outcome.call)
        if outcome.verdict == "fatal":
            raise LLMFatalError(
                f"model {model!r} at {client.spec.base_url} ({purpose}): {outcome.call.error}"
            )
        if outcome.text is not None and self.recorder is not None and not outcome.call.replayed:
            self.recorder.write(outcome.call, outcome.text)
        return outcome.text if outcome.verdict == "ok" else None

    async def embed(self, texts: Sequence[str]) -> EmbeddingOutcome:
        """Embeddings of ``texts`` by the ``[llm.embedding]`` model."""
        if self.embedder is None:
            raise LLMFatalError(
                "no embedding model: add an [llm.embedding] table (name, base_url, "
                'api_key_env), or use [novelty] embedder = "hashed" (a replayed run '
                "cannot call one: replay answers chat completions only)"
            )
        return await self.embedder.embed(texts)

    def _account(self, call: LLMCall) -> None:
        """A finished or cancelled call: keep its record and charge its cost."""
        self.calls.append(call)
        self.budget.charge(call)
        self.ensemble.charge(call.model, call.cost_usd)

    def account_checks(self, calls: Sequence[LLMCall]) -> None:
        """The start-up checks of the models (``check_models``): kept for the
        run's llm_calls table like every call, but not charged to the budget
        or a model's bandit arm (they are no proposal, and a replay makes none,
        so charging them would move a replayed run's budget stop)."""
        self.calls.extend(calls)

    def feedback(
        self, proposal: Proposal, parent_fitness: float | None, child_fitness: float | None
    ) -> None:
        """Reward the proposal's model with the fitness gain of its child
        (fitness: higher is better; None = rejected, invalid or failed child)."""
        gain = 0.0
        if parent_fitness is not None and child_fitness is not None:
            gain = child_fitness - parent_fitness
        self.ensemble.report(proposal.model, gain)

    def drain_calls(self) -> list[LLMCall]:
        """The call records since the last drain (for the run store)."""
        calls, self.calls = self.calls, []
        return calls

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state for the checkpoint (spend, bandit, evolved prompts)."""
        state = {"budget": self.budget.snapshot(), "ensemble": self.ensemble.snapshot()}
        if self.meta is not None:
            state["meta"] = self.meta.snapshot()
        return state

    def restore(self, state: dict[str, Any]) -> None:
        self.budget.restore(state["budget"])
        self.ensemble.restore(state["ensemble"])
        if self.meta is not None and state.get("meta"):
            self.meta.restore(state["meta"])

    async def aclose(self) -> None:
        if self.meta is not None:
            await self.meta.aclose()
        for client in self.clients.values():
            await client.aclose()
        if self.embedder is not None:
            await self.embedder.aclose()
        if self.recorder is not None:
            self.recorder.close()
