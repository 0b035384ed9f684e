"""One OpenAI-compatible model endpoint: a chat completion with our own retries,
token and cost accounting, and a start-up check that fails fast on a bad key.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import openai
from openai.types.chat import ChatCompletion, ChatCompletionUserMessageParam

from evolve.config import LLMConfig, ModelSpec, resolve_api_key
from evolve.mutation.llm import retry
from evolve.mutation.llm.budget import Budget
from evolve.mutation.llm.calls import (
    CANCELLED,
    PREFLIGHT,
    LLMCall,
    estimate_tokens,
    messages_json,
    messages_text,
    prompt_hash,
)
from evolve.mutation.llm.errors import LLMFatalError

__all__ = [
    "CallOutcome",
    "CompletionClient",
    "ModelClient",
    "ReplyText",
    "check_models",
    "new_call_id",
    "read_reply",
    "request_key",
]

Messages = Sequence[Mapping[str, Any]]


def request_key(spec: ModelSpec, messages: Messages, seed: int | None) -> str:
    """The record/replay key of a request to ``spec`` (the seed counts only when sent)."""
    sent_seed = seed if spec.send_seed else None
    return prompt_hash(
        spec.name, [dict(m) for m in messages], spec.temperature, spec.max_tokens, sent_seed
    )


def new_call_id() -> str:
    """A unique id for an LLM call record (not derived from the seed, so two
    runs' records never collide in a merged table)."""
    return "c" + uuid.uuid4().hex[:16]


@dataclass(frozen=True)
class CallOutcome:
    """The record of a call and, when it succeeded, the reply text.

    ``verdict`` is "ok" (a reply arrived, possibly empty: ``text`` may be ""),
    "fail" (no reply for this request) or "fatal" (the configuration is wrong).
    """

    call: LLMCall
    text: str | None
    verdict: Literal["ok", "fail", "fatal"]


class CompletionClient(Protocol):
    """What the proposer needs from a model: ModelClient and ReplayClient."""

    spec: ModelSpec

    async def complete(
        self,
        messages: Messages,
        *,
        seed: int | None,
        edit_kind: str,
        on_cancel: Callable[[LLMCall], None] | None = None,
    ) -> CallOutcome:
        """The call's outcome; when cancelled, ``on_cancel`` gets the record of a
        request already sent, and the cancellation propagates."""
        ...

    async def aclose(self) -> None: ...


def async_openai(spec: ModelSpec, config: LLMConfig) -> openai.AsyncOpenAI:
    """The official client for ``spec``'s endpoint: the key from its variable,
    evolve's own retries and deadlines in place of the client's (``max_retries=0``)."""
    return openai.AsyncOpenAI(
        base_url=spec.base_url,
        api_key=resolve_api_key(spec),
        max_retries=0,
        timeout=config.timeout_s,
    )


class ModelClient:
    """Chat completions from one model, retried on transient failures.

    ``limiter`` is the ensemble-wide concurrency limit; it is held only while
    an HTTP attempt is in flight, not during backoff waits, so one rate-limited
    model does not starve the others. ``budget``, if given, is checked once a
    slot is free and before the first attempt (``BudgetExhausted`` propagates;
    no call is made or recorded then). ``timeout_s`` and ``call_deadline_s``
    bound every call (see ``complete``).
    """

    def __init__(
        self,
        spec: ModelSpec,
        config: LLMConfig,
        *,
        limiter: asyncio.Semaphore | None = None,
        budget: Budget | None = None,
        jitter_seed: int = 0,
    ) -> None:
        self.spec = spec
        self.config = config
        self._limiter = limiter or asyncio.Semaphore(config.max_concurrency)
        self._budget = budget
        self._rng = random.Random(jitter_seed)
        self._client = async_openai(spec, config)

    async def aclose(self) -> None:
        await self._client.close()

    def request(self, messages: Messages, seed: int | None) -> dict[str, Any]:
        """The keyword arguments of the chat-completion request."""
        body: dict[str, Any] = {
            "model": self.spec.name,
            "messages": [dict(m) for m in messages],
            "temperature": self.spec.temperature,
            "max_tokens": self.spec.max_tokens,
        }
        if self.spec.send_seed and seed is not None:
            body["seed"] = seed
        return body

    async def complete(
        self,
        messages: Messages,
        *,
        seed: int | None,
        edit_kind: str,
        on_cancel: Callable[[LLMCall], None] | None = None,
    ) -> CallOutcome:
        """One logical call; never raises for HTTP or network failures (they
        are in the outcome's verdict and the call record's ``error``).

        Two bounds, so a server that hangs or trickles cannot hold a call (and
        so a run's stop) for long: each attempt ends after ``timeout_s`` by the
        wall clock (the HTTP client's own timeout is per read, and a reply that
        trickles in never trips it), and the whole call after
        ``call_deadline_s`` from its first attempt: a retry whose backoff wait
        would end past the deadline is not made, and the last attempt is cut
        at the deadline.

        A cancellation (the run stops) propagates, as asyncio requires; if a
        request was sent, ``on_cancel`` first gets the call's record, with
        ``error`` = ``CANCELLED``, so the run's llm_calls table shows it.
        """
        spec, config = self.spec, self.config
        body = self.request(messages, seed)
        key = request_key(spec, messages, seed)
        sent_messages = messages_json(messages)
        started, created = time.monotonic(), time.time()
        deadline = math.inf  # set when the first attempt is sent
        sent = 0  # attempts sent
        try:
            while True:
                cut_by_deadline = False
                try:
                    async with self._limiter:
                        if not sent:
                            if self._budget is not None:
                                # Checked here, after waiting for a slot, so the
                                # overshoot is bounded by the calls in flight.
                                self._budget.check()
                            deadline = time.monotonic() + config.call_deadline_s
                        window = deadline - time.monotonic()
                        cut_by_deadline = window < config.timeout_s
                        if window <= 0:  # waiting for a slot took the rest: send nothing
                            raise TimeoutError
                        sent += 1
                        async with asyncio.timeout(min(window, config.timeout_s)):
                            reply = await self._client.chat.completions.create(**body)
                except (openai.APIError, ValueError, TimeoutError) as exc:
                    # ValueError: a 200 body the client could not decode (not JSON).
                    # TimeoutError: the attempt's wall-clock bound, from asyncio.timeout.
                    verdict, error, asked = self._judge(exc, cut_by_deadline)
                    attempt = sent - 1
                    if verdict == "retry" and attempt < config.max_retries:
                        wait = retry.backoff_delay(
                            attempt, config.backoff_base_s, config.backoff_max_s, self._rng, asked
                        )
                        if time.monotonic() + wait < deadline:
                            await asyncio.sleep(wait)
                            continue
                        error = (
                            f"gave up after {sent} attempts: call_deadline_s "
                            f"({config.call_deadline_s:g} s) reached; last: {error}"
                        )
                    elif verdict == "retry":
                        error = f"gave up after {sent} attempts; last: {error}"
                    call = self._record(
                        key, sent_messages, edit_kind, started, created, attempt, error=error
                    )
                    return CallOutcome(call, None, "fatal" if verdict == "fatal" else "fail")
                parsed = read_reply(reply, messages)
                call = self._record(
                    key,
                    sent_messages,
                    edit_kind,
                    started,
                    created,
                    sent - 1,
                    tokens=parsed.tokens,
                    estimated=parsed.usage_estimated,
                    finish=parsed.finish_reason,
                    completion=parsed.text,
                )
                return CallOutcome(call, parsed.text, "ok")
        except asyncio.CancelledError:
            if sent and on_cancel is not None:
                cancelled = self._record(
                    key, sent_messages, edit_kind, started, created, sent - 1, error=CANCELLED
                )
                on_cancel(cancelled)
            raise

    def _judge(
        self, exc: BaseException, cut_by_deadline: bool
    ) -> tuple[retry.Verdict, str, float | None]:
        """A failed attempt's verdict, its description for the record, and the
        wait its server asked for."""
        if isinstance(exc, TimeoutError):
            config = self.config
            bound = (
                f"call_deadline_s ({config.call_deadline_s:g} s)"
                if cut_by_deadline
                else f"timeout_s ({config.timeout_s:g} s)"
            )
            return "retry", f"timeout: no reply within {bound}", None
        return retry.classify(exc), retry.describe(exc), retry.retry_after_s(exc)

    def _record(
        self,
        key: str,
        sent_messages: str,
        edit_kind: str,
        started: float,
        created: float,
        retries: int,
        *,
        error: str | None = None,
        tokens: tuple[int, int] = (0, 0),
        estimated: bool = False,
        finish: str | None = None,
        completion: str | None = None,
    ) -> LLMCall:
        return LLMCall(
            id=new_call_id(),
            model=self.spec.key,
            prompt_tokens=tokens[0],
            completion_tokens=tokens[1],
            cost_usd=self.spec.cost_usd(*tokens),
            latency_s=time.monotonic() - started,
            retries=retries,
            error=error,
            prompt_hash=key,
            edit_kind=edit_kind,
            created_at=created,
            usage_estimated=estimated,
            finish_reason=finish,
            messages=sent_messages,
            completion=completion,
        )


@dataclass(frozen=True)
class ReplyText:
    """What a chat completion said and what it used."""

    text: str
    finish_reason: str | None
    tokens: tuple[int, int]  # (prompt, completion)
    usage_estimated: bool


def read_reply(reply: object, messages: Messages) -> ReplyText:
    """Text, finish reason and usage of a reply from a server we do not control:
    no choices gives "", missing usage is estimated from the text and flagged."""
    text, finish = "", None
    usage = None
    if isinstance(reply, ChatCompletion):
        choices = reply.choices or []
        if choices:
            finish = choices[0].finish_reason
            message = choices[0].message
            if message is not None and message.content:
                text = message.content
        usage = reply.usage
    if usage is None or usage.prompt_tokens is None or usage.completion_tokens is None:
        estimate = (estimate_tokens(messages_text(messages)), estimate_tokens(text))
        return ReplyText(text, finish, estimate, True)
    return ReplyText(text, finish, (int(usage.prompt_tokens), int(usage.completion_tokens)), False)


# What each start-up check sends: the cheapest request a chat endpoint answers.
CHECK_MESSAGE: ChatCompletionUserMessageParam = {
    "role": "user",
    "content": "Reply with the word ok.",
}
CHECK_MAX_TOKENS = 1
# The OpenAI client's own retries of a start-up check (a probe should fail fast),
# and the statuses it retries (so a 429 that passes the check took them all).
_CHECK_RETRIES = 2
_CLIENT_RETRIED_STATUSES = (408, 409, 429)


async def check_models(config: LLMConfig, timeout_s: float = 30.0) -> list[LLMCall]:
    """Make one cheap request per model so a wrong key, URL or model name
    fails at start-up rather than an hour into a run.

    Returns the record of each check (``edit_kind`` ``"preflight"``), so the
    run accounts for these tokens like any other call. Raises ``LLMFatalError``
    (``ConfigError`` for an unset key variable) naming the model, its base_url
    and its key variable. Transient failures are retried twice; a rate limit
    (429) passes, since it proves the key works (its record carries the error).
    """
    calls: list[LLMCall] = []
    for spec in config.models:
        key = resolve_api_key(spec)
        where = f"model {spec.key!r} at {spec.base_url}"
        keyvar = (
            f"the key in ${spec.api_key_env}" if spec.api_key_env else "no key (api_key_env = '')"
        )
        retries = min(config.max_retries, _CHECK_RETRIES)
        client = openai.AsyncOpenAI(
            base_url=spec.base_url,
            api_key=key,
            max_retries=retries,
            timeout=min(timeout_s, config.timeout_s),
        )
        record = _CheckRecord(spec, [CHECK_MESSAGE])
        try:
            raw = await client.chat.completions.with_raw_response.create(
                model=spec.name,
                messages=[CHECK_MESSAGE],
                max_tokens=CHECK_MAX_TOKENS,
                temperature=0.0,
            )
            parsed = read_reply(raw.parse(), [CHECK_MESSAGE])
            calls.append(record.done(raw.retries_taken, parsed=parsed))
        except openai.AuthenticationError as exc:
            raise LLMFatalError(
                f"{where}: the server rejected {keyvar} (HTTP 401: {exc.message}); "
                f"check that {spec.api_key_env or 'the key'} holds a valid key for this server"
            ) from None
        except openai.PermissionDeniedError as exc:
            raise LLMFatalError(
                f"{where}: {keyvar} may not use this model (HTTP 403: {exc.message})"
            ) from None
        except openai.NotFoundError as exc:
            raise LLMFatalError(
                f"{where}: not found (HTTP 404: {exc.message}); check `name` and `base_url` "
                "(base_url usually ends in /v1)"
            ) from None
        except openai.APIConnectionError as exc:
            raise LLMFatalError(
                f"{where}: cannot connect ({retry.describe(exc)}); is the server up and "
                "base_url right?"
            ) from None
        except openai.APIStatusError as exc:
            if exc.status_code >= 500:
                raise LLMFatalError(
                    f"{where}: the server keeps failing (HTTP {exc.status_code}: {exc.message})"
                ) from None
            # 400/422/429: the server judged this request, so key and model are fine.
            taken = retries if exc.status_code in _CLIENT_RETRIED_STATUSES else 0
            calls.append(record.done(taken, error=retry.describe(exc)))
        finally:
            with contextlib.suppress(Exception):
                await client.close()
    return calls


class _CheckRecord:
    """The LLMCall of one start-up check, timed from its creation."""

    def __init__(self, spec: ModelSpec, messages: Messages) -> None:
        self.spec = spec
        self.messages = messages
        self.started, self.created = time.monotonic(), time.time()

    def done(
        self, retries: int, *, parsed: ReplyText | None = None, error: str | None = None
    ) -> LLMCall:
        spec = self.spec
        tokens = (0, 0) if parsed is None else parsed.tokens
        return LLMCall(
            id=new_call_id(),
            model=spec.key,
            prompt_tokens=tokens[0],
            completion_tokens=tokens[1],
            cost_usd=spec.cost_usd(*tokens),
            latency_s=time.monotonic() - self.started,
            retries=retries,
            error=error,
            prompt_hash=prompt_hash(spec.name, self.messages, 0.0, CHECK_MAX_TOKENS, None),
            edit_kind=PREFLIGHT,
            created_at=self.created,
            usage_estimated=False if parsed is None else parsed.usage_estimated,
            finish_reason=None if parsed is None else parsed.finish_reason,
            messages=messages_json(self.messages),
            completion=None if parsed is None else parsed.text,
        )
