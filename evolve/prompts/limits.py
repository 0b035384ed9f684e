"""Bounds on what a prompt shows (the ``[llm.prompt]`` table)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PromptLimits"]


@dataclass(frozen=True)
class PromptLimits:
    """Bounds on what a prompt shows, so a prompt never outgrows a context window."""

    max_prompt_chars: int = 60_000  # system + user message
    max_inspirations: int = 3
    max_inspiration_chars: int = 8_000  # longer inspirations are cut (head kept)
    max_artifact_chars: int = 2_000  # per artifact, before any further shrinking
    max_metrics: int = 40

    def __post_init__(self) -> None:
        if self.max_prompt_chars < 1_000:
            raise ValueError(f"max_prompt_chars must be >= 1000, got {self.max_prompt_chars}")
        for name in ("max_inspirations", "max_inspiration_chars", "max_artifact_chars"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.max_metrics < 1:
            raise ValueError(f"max_metrics must be >= 1, got {self.max_metrics}")
