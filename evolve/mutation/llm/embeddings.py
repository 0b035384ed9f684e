"""Embeddings from an OpenAI-compatible ``/v1/embeddings`` endpoint (the
``[llm.embedding]`` model), with the same retry policy, deadline and call
records as chat completions.

What a vector means is the novelty check's business (``evolve.novelty``);
here a batch of texts goes out and a matrix comes back, one unit row per text,
and every call, failed or not, becomes an ``LLMCall`` (``edit_kind``
"embedding") charged to the run's budget.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import openai

from evolve.config import LLMConfig, ModelSpec
from evolve.mutation.llm import retry
from evolve.mutation.llm.budget import Budget
from evolve.mutation.llm.calls import LLMCall, estimate_tokens, prompt_hash
from evolve.mutation.llm.client import async_openai, new_call_id
from evolve.mutation.llm.errors import LLMFatalError

__all__ = ["EMBEDDING_CALL", "EmbeddingClient", "EmbeddingOutcome"]

EMBEDDING_CALL = "embedding"  # the edit_kind of an embedding call's record


@dataclass(frozen=True)
class EmbeddingOutcome:
    """The call's record and, when it succeeded, one row per text."""

    call: LLMCall
    vectors: np.ndarray | None


class EmbeddingClient:
    """Embeds texts with one model; ``account`` gets every call's record."""

    def __init__(
        self,
        spec: ModelSpec,
        config: LLMConfig,
        account: Callable[[LLMCall], None],
        *,
        budget: Budget | None = None,
        jitter_seed: int = 0,
    ) -> None:
        self.spec = spec
        self.config = config
        self._account = account
        self._budget = budget
        self._rng = random.Random(jitter_seed)
        self._client = async_openai(spec, config)

    async def aclose(self) -> None:
        await self._client.close()

    async def embed(self, texts: Sequence[str]) -> EmbeddingOutcome:
        """One logical call for ``texts``; transient failures are retried, a
        wrong key, URL or model raises ``LLMFatalError``, any other failure
        gives ``vectors`` None (the caller goes on without them)."""
        if self._budget is not None:
            self._budget.check()
        config, spec = self.config, self.spec
        started, created = time.monotonic(), time.time()
        deadline = started + config.call_deadline_s
        attempt = 0
        while True:
            window = min(config.timeout_s, deadline - time.monotonic())
            try:
                async with asyncio.timeout(max(window, 0.001)):
                    reply = await self._client.embeddings.create(
                        model=spec.name, input=list(texts), encoding_format="float"
                    )
            except (openai.APIError, ValueError, TimeoutError) as exc:
                if isinstance(exc, TimeoutError):
                    verdict: retry.Verdict = "retry"
                    error = f"timeout: no reply within {window:g} s"
                else:
                    verdict, error = retry.classify(exc), retry.describe(exc)
                if verdict == "retry" and attempt < config.max_retries:
                    wait = retry.backoff_delay(
                        attempt,
                        config.backoff_base_s,
                        config.backoff_max_s,
                        self._rng,
                        retry.retry_after_s(exc),
                    )
                    if time.monotonic() + wait < deadline:
                        attempt += 1
                        await asyncio.sleep(wait)
                        continue
                call = self._record(texts, started, created, attempt, error=error)
                self._account(call)
                if verdict == "fatal":
                    raise LLMFatalError(
                        f"embedding model {spec.key!r} at {spec.base_url}: {error}; fix "
                        "[llm.embedding] (name, base_url, api_key_env) and resume the run"
                    ) from None
                return EmbeddingOutcome(call, None)
            rows = sorted(reply.data, key=lambda item: item.index)
            vectors = np.array([row.embedding for row in rows], dtype=np.float32)
            if vectors.shape[0] != len(texts) or vectors.ndim != 2:
                call = self._record(
                    texts,
                    started,
                    created,
                    attempt,
                    error=f"the reply held {len(rows)} embeddings for {len(texts)} inputs",
                )
                self._account(call)
                return EmbeddingOutcome(call, None)
            usage = reply.usage
            tokens = int(usage.prompt_tokens) if usage is not None else None
            call = self._record(texts, started, created, attempt, tokens=tokens)
            self._account(call)
            return EmbeddingOutcome(call, vectors)

    def _record(
        self,
        texts: Sequence[str],
        started: float,
        created: float,
        retries: int,
        *,
        error: str | None = None,
        tokens: int | None = None,
    ) -> LLMCall:
        estimated = tokens is None and error is None
        if tokens is None:
            tokens = 0 if error is not None else sum(estimate_tokens(t) for t in texts)
        key = prompt_hash(
            self.spec.name, [{"role": "input", "content": t} for t in texts], 0.0, 0, None
        )
        return LLMCall(
            id=new_call_id(),
            model=self.spec.key,
            prompt_tokens=tokens,
            completion_tokens=0,
            cost_usd=self.spec.cost_usd(tokens, 0),
            latency_s=time.monotonic() - started,
            retries=retries,
            error=error,
            prompt_hash=key,
            edit_kind=EMBEDDING_CALL,
            created_at=created,
            usage_estimated=estimated,
        )
