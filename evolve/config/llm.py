"""Typed configuration of the LLM ensemble (the ``[llm]`` table).

The same table is read from problem.toml or from a standalone TOML file given
with ``--llm-config``; both go through ``evolve.config.strict.from_mapping`` so an
unknown key or a wrong type is an error naming the file and the key. API keys
are never stored in a file: a model names the environment variable that holds
its key, and a missing variable is reported at start-up, not mid-run.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from evolve.config.strict import from_mapping
from evolve.errors import ConfigError

__all__ = [
    "NO_KEY",
    "EditMix",
    "LLMConfig",
    "ModelSpec",
    "PromptLimits",
    "load_llm_config",
    "resolve_api_key",
]

# Sent as the key when a model says it needs none (local servers): the openai
# client refuses to start without some key.
NO_KEY = "no-key-needed"


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


@dataclass(frozen=True)
class ModelSpec:
    """One model of the ensemble and the endpoint that serves it."""

    name: str
    base_url: str = "https://api.openai.com/v1"
    api_key_env: str = "OPENAI_API_KEY"  # "" = the server needs no key
    label: str = ""  # distinguishes two entries of the same model (e.g. two temperatures)
    weight: float = 1.0
    temperature: float = 0.7
    max_tokens: int = 4096
    price_input_per_mtok: float = 0.0  # USD per million prompt tokens
    price_output_per_mtok: float = 0.0  # USD per million completion tokens
    send_seed: bool = True  # pass the proposal's seed as the request's `seed`

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a model's name must not be empty")
        if not self.weight > 0:
            raise ValueError(f"model {self.key!r}: weight must be > 0, got {self.weight}")
        if not 0 <= self.temperature <= 2:
            raise ValueError(
                f"model {self.key!r}: temperature must be in [0, 2], got {self.temperature}"
            )
        if self.max_tokens < 1:
            raise ValueError(f"model {self.key!r}: max_tokens must be >= 1, got {self.max_tokens}")
        if self.price_input_per_mtok < 0 or self.price_output_per_mtok < 0:
            raise ValueError(f"model {self.key!r}: prices must be >= 0")

    @property
    def key(self) -> str:
        """The name this entry goes by in records and in the bandit."""
        return self.label or self.name

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Dollar cost of one call from its token usage."""
        return (
            prompt_tokens * self.price_input_per_mtok
            + completion_tokens * self.price_output_per_mtok
        ) / 1e6


@dataclass(frozen=True)
class EditMix:
    """Relative frequency of each edit kind (normalised; need not sum to 1)."""

    diff: float = 0.8
    rewrite: float = 0.15
    crossover: float = 0.05

    def __post_init__(self) -> None:
        weights = self.as_dict()
        if any(w < 0 for w in weights.values()):
            raise ValueError(f"edit_mix weights must be >= 0, got {weights}")
        if not sum(weights.values()) > 0:
            raise ValueError("edit_mix weights must not all be 0")

    def as_dict(self) -> dict[str, float]:
        return {"diff": self.diff, "rewrite": self.rewrite, "crossover": self.crossover}


@dataclass(frozen=True)
class LLMConfig:
    """The ``[llm]`` table: models, limits on calls and spend, and edit kinds."""

    models: tuple[ModelSpec, ...]
    max_concurrency: int = 4  # LLM calls in flight across the whole ensemble
    timeout_s: float = 120.0  # per HTTP attempt, by the wall clock
    max_retries: int = 5  # attempts after the first, on 429 / 5xx / timeouts / connection
    # A whole call: its attempts and the backoff waits between them. Without it a
    # hanging endpoint holds a call for (max_retries + 1) * timeout_s plus backoff.
    call_deadline_s: float = 600.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0  # also caps a server's Retry-After
    budget_usd: float | None = None
    budget_tokens: int | None = None
    selection: Literal["weighted", "ucb"] = "weighted"
    ucb_exploration: float = 1.0  # the c of UCB1; 0 = pure exploitation
    edit_mix: EditMix = field(default_factory=EditMix)
    prompt: PromptLimits = field(default_factory=PromptLimits)
    # [llm.embedding]: an OpenAI-compatible /v1/embeddings model, for
    # [novelty] embedder = "llm" (its temperature and max_tokens are unused)
    embedding: ModelSpec | None = None

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("list at least one model under [[llm.models]]")
        keys = [m.key for m in self.models]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"models {dupes} are listed twice; give each entry a distinct `label`")
        if self.max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {self.max_concurrency}")
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
        if not (math.isfinite(self.call_deadline_s) and self.call_deadline_s > 0):
            raise ValueError(
                f"call_deadline_s must be a finite number > 0, got {self.call_deadline_s}"
            )
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.backoff_base_s < 0 or self.backoff_max_s < self.backoff_base_s:
            raise ValueError("need 0 <= backoff_base_s <= backoff_max_s")
        if self.budget_usd is not None and self.budget_usd < 0:
            raise ValueError(f"budget_usd must be >= 0, got {self.budget_usd}")
        if self.budget_tokens is not None and self.budget_tokens < 0:
            raise ValueError(f"budget_tokens must be >= 0, got {self.budget_tokens}")
        if self.ucb_exploration < 0:
            raise ValueError(f"ucb_exploration must be >= 0, got {self.ucb_exploration}")

    def model(self, key: str) -> ModelSpec:
        """The model entry called ``key`` (its label, or its name)."""
        for spec in self.models:
            if spec.key == key:
                return spec
        raise KeyError(
            f"no model {key!r} in the [llm] config; known: {[m.key for m in self.models]}"
        )


def load_llm_config(path: str | Path) -> LLMConfig:
    """Read the ``[llm]`` table of a standalone TOML file (``--llm-config``)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; pass a TOML file with an [llm] table") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    extra = sorted(set(data) - {"llm"})
    if extra:
        raise ConfigError(f"{path}: unknown top-level key(s) {extra}; only an [llm] table is read")
    if "llm" not in data:
        raise ConfigError(f"{path}: no [llm] table; add [llm] with at least one [[llm.models]]")
    return from_mapping(LLMConfig, data["llm"], path, prefix="llm.")


def resolve_api_key(spec: ModelSpec) -> str:
    """The key for ``spec`` from its environment variable; a clear error if unset."""
    if not spec.api_key_env:
        return NO_KEY
    key = os.environ.get(spec.api_key_env, "")
    if not key:
        raise ConfigError(
            f"model {spec.key!r} ({spec.base_url}): environment variable {spec.api_key_env} "
            f'is not set; export {spec.api_key_env}=<your key>, or set api_key_env = "" '
            "for a local server that needs no key"
        )
    return key
