"""Record every completion of a run, and answer a later run from that record
with no network, so a published run can be re-run bit for bit.

The record is append-only JSON Lines, one line per successful call, flushed
and fsynced per call so a killed run keeps everything it paid for. Lines are
keyed by the request hash (model, messages, temperature, max_tokens, seed);
a request repeated verbatim is answered with its recordings in order.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from evolve.config import ModelSpec
from evolve.mutation.llm.calls import LLMCall, messages_json
from evolve.mutation.llm.client import CallOutcome, new_call_id, request_key
from evolve.mutation.llm.errors import LLMFatalError, ReplayMissing

__all__ = ["RECORD_FILE", "Recorder", "ReplayClient", "ReplayRecord"]

RECORD_FILE = "llm_record.jsonl"  # its conventional name inside a run directory

Messages = Sequence[Mapping[str, Any]]


class Recorder:
    """Appends (request hash -> completion text + usage) lines to a file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")

    def write(self, call: LLMCall, text: str) -> None:
        """Record a reply, or (``call.error`` set) a call that failed after its
        retries: replay must fail that proposal too, or the runs diverge."""
        line = {
            "prompt_hash": call.prompt_hash,
            "model": call.model,
            "text": text,
            "prompt_tokens": call.prompt_tokens,
            "completion_tokens": call.completion_tokens,
            "usage_estimated": call.usage_estimated,
            "finish_reason": call.finish_reason,
        }
        if call.error is not None:
            line["error"] = call.error
        self._file.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


class ReplayRecord:
    """A record file loaded for answering; shared by every model's ReplayClient."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._entries: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._served: dict[str, int] = defaultdict(int)
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise LLMFatalError(f"{self.path}: no such replay record") from None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                self._entries[entry["prompt_hash"]].append(entry)
            except (json.JSONDecodeError, KeyError, TypeError):
                if number == len(lines):
                    continue  # a run killed mid-write leaves a partial last line
                raise LLMFatalError(
                    f"{self.path}:{number}: not a record line (JSON with a prompt_hash)"
                ) from None

    def __len__(self) -> int:
        return sum(len(v) for v in self._entries.values())

    def answer(self, key: str) -> dict[str, Any]:
        """The next recorded completion for request ``key`` (the last one again
        once all have been served)."""
        entries = self._entries.get(key)
        if not entries:
            raise ReplayMissing(
                f"{self.path}: request {key} is not in the replay record; the run diverged "
                "from the recorded one (another problem, config, seed or code version?)"
            )
        index = min(self._served[key], len(entries) - 1)
        self._served[key] += 1
        return entries[index]


class ReplayClient:
    """A CompletionClient answering from a ReplayRecord; no network at all."""

    def __init__(self, spec: ModelSpec, record: ReplayRecord) -> None:
        self.spec = spec
        self.record = record

    async def aclose(self) -> None:
        return None

    async def complete(
        self,
        messages: Messages,
        *,
        seed: int | None,
        edit_kind: str,
        on_cancel: Callable[[LLMCall], None] | None = None,
    ) -> CallOutcome:
        """The recorded answer; it never awaits, so there is nothing to cancel
        and ``on_cancel`` is never called."""
        spec = self.spec
        key = request_key(spec, messages, seed)
        started, created = time.monotonic(), time.time()
        entry = self.record.answer(key)
        tokens = (int(entry["prompt_tokens"]), int(entry["completion_tokens"]))
        error = entry.get("error")
        text = str(entry["text"])
        call = LLMCall(
            id=new_call_id(),
            model=spec.key,
            prompt_tokens=tokens[0],
            completion_tokens=tokens[1],
            cost_usd=spec.cost_usd(*tokens),
            latency_s=time.monotonic() - started,
            retries=0,
            error=error,
            prompt_hash=key,
            edit_kind=edit_kind,
            created_at=created,
            usage_estimated=bool(entry.get("usage_estimated", False)),
            finish_reason=entry.get("finish_reason"),
            replayed=True,
            # The texts a live call would have stored: the request is this run's
            # own, the reply the recorded one (none for a recorded failure).
            messages=messages_json(messages),
            completion=None if error is not None else text,
        )
        return CallOutcome(call, text, "fail" if error is not None else "ok")
