"""How an LLM call can fail, seen from the controller.

* ``LLMCallFailed`` - this proposal got no reply (retries exhausted, or the
  server refused this request with a 400). The run goes on; it is a
  ``MutationError`` so a controller that catches those records it as a
  rejected proposal.
* ``LLMFatalError`` - the key, endpoint or model is wrong (401/403/404), or a
  replay record lacks a request: every later call would fail the same way, so
  the run should stop. It is a ``ConfigError`` because that is what it is, and
  the CLI already reports those in one line.
* ``BudgetExhausted`` (``evolve.mutation``, the protocol's own) - the spend limit is reached.
"""

from __future__ import annotations

from evolve.errors import ConfigError
from evolve.mutation.protocol import MutationError

__all__ = ["LLMCallFailed", "LLMFatalError", "ReplayMissing"]


class LLMCallFailed(MutationError):
    """No usable HTTP reply for this proposal; ``call_id`` names its LLMCall record."""

    def __init__(self, message: str, call_id: str | None = None) -> None:
        super().__init__(message)
        self.call_id = call_id


class LLMFatalError(ConfigError):
    """A failure no retry or later call can fix; stop the run and fix the config."""


class ReplayMissing(LLMFatalError):
    """A replayed run asked for a request the record does not hold."""
