"""Spend limits in dollars and tokens, checked before every LLM call.

Why check-then-charge rather than reserving a worst case up front: the cost of
a call is only known from its usage, and a worst-case reservation (max_tokens
for every call) would stop runs far below their budget. The price is a bounded
overshoot: calls already in flight when the limit is crossed may finish and be
charged before the run's stop cancels the rest, so the final spend can exceed
the limit by at most the cost of ``max_concurrency`` calls (each at most its
prompt plus ``max_tokens``). A cancelled call is charged nothing: what a
provider bills for a request cut off mid-reply is unknowable from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evolve.mutation.llm.calls import LLMCall
from evolve.mutation.protocol import BudgetExhausted

__all__ = ["Budget"]


@dataclass
class Budget:
    """Running totals against optional limits (None = unlimited)."""

    limit_usd: float | None = None
    limit_tokens: int | None = None
    spent_usd: float = 0.0
    spent_tokens: int = 0
    calls: int = 0

    @property
    def exhausted(self) -> bool:
        return self.reason() is not None

    def reason(self) -> str | None:
        """Why no further call may start, or None while budget remains."""
        if self.limit_usd is not None and self.spent_usd >= self.limit_usd:
            return (
                f"LLM budget spent: ${self.spent_usd:.4f} of ${self.limit_usd:.4f} "
                f"after {self.calls} calls"
            )
        if self.limit_tokens is not None and self.spent_tokens >= self.limit_tokens:
            return (
                f"LLM token budget spent: {self.spent_tokens} of {self.limit_tokens} tokens "
                f"after {self.calls} calls"
            )
        return None

    def check(self) -> None:
        """Raise ``BudgetExhausted`` if no further call may start."""
        reason = self.reason()
        if reason is not None:
            raise BudgetExhausted(reason)

    def charge(self, call: LLMCall) -> None:
        """Add one finished call (failed calls add their zero cost too)."""
        self.spent_usd += call.cost_usd
        self.spent_tokens += call.total_tokens
        self.calls += 1

    def snapshot(self) -> dict[str, Any]:
        return {"spent_usd": self.spent_usd, "spent_tokens": self.spent_tokens, "calls": self.calls}

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint; the limits stay those of the current config."""
        self.spent_usd = float(state["spent_usd"])
        self.spent_tokens = int(state["spent_tokens"])
        self.calls = int(state["calls"])
