"""The ``[meta]`` table: prompts that evolve (AlphaEvolve's co-evolved prompts,
ShinkaEvolve's meta scratchpad), both written by the LLM, both bounded.

* A system-prompt archive: every ``prompt_every`` evaluations one LLM call
  writes a new variant of the system prompt from the variants' records and the
  edits that worked; each proposal picks a variant with a UCB1 bandit on the
  score gain of its children, and its LLM call records the variant.
* A scratchpad: every ``scratchpad_every`` evaluations one LLM call turns the
  recent successful and failed edits (diffs, scores, errors) into short
  recommendations, which later prompts carry in their system message.

Cost: at most one call per ``*_every`` evaluations each, with bounded input
(``scratchpad_edits`` edits, each diff cut) and output (``*_max_chars``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["MetaConfig"]


@dataclass(frozen=True)
class MetaConfig:
    """``[meta]``: off unless ``prompt_variants`` or ``scratchpad_every`` is set.

    prompt_variants: the most system prompts in the archive, the problem's own
        included (0 or 1: no archive). Past it, a new variant replaces the one
        with the lowest mean gain (never the problem's own).
    prompt_every: evaluations between two variant-writing calls.
    prompt_exploration: UCB1's exploration weight over the variants.
    prompt_max_chars: a written variant is cut to this length.
    scratchpad_every: evaluations between two scratchpad updates (0: none).
    scratchpad_edits: the most recent edits one update reads (half successes,
        half failures where there are enough of each).
    scratchpad_max_chars: the scratchpad is cut to this length.
    diff_chars: each edit's diff is cut to this length in a writer's request.
    model: the ``[llm]`` model (label or name) that writes both; "" is the first.
    """

    prompt_variants: int = 0
    prompt_every: int = 25
    prompt_exploration: float = 1.0
    prompt_max_chars: int = 4000
    scratchpad_every: int = 0
    scratchpad_edits: int = 12
    scratchpad_max_chars: int = 1500
    diff_chars: int = 600
    model: str = ""

    def __post_init__(self) -> None:
        for name, low in (
            ("prompt_variants", 0),
            ("prompt_every", 1),
            ("prompt_max_chars", 200),
            ("scratchpad_every", 0),
            ("scratchpad_edits", 1),
            ("scratchpad_max_chars", 100),
            ("diff_chars", 50),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        exploration = self.prompt_exploration
        if not isinstance(exploration, int | float) or not math.isfinite(exploration):
            raise ValueError(f"prompt_exploration must be a finite number, got {exploration!r}")
        if exploration < 0:
            raise ValueError(f"prompt_exploration must be >= 0, got {exploration}")

    @property
    def evolves_prompts(self) -> bool:
        return self.prompt_variants >= 2

    @property
    def keeps_scratchpad(self) -> bool:
        return self.scratchpad_every > 0

    @property
    def enabled(self) -> bool:
        return self.evolves_prompts or self.keeps_scratchpad
