"""The schema of problem.toml: one frozen dataclass per table.

Every table but ``name`` is optional. ``evolve.config.strict.from_mapping``
turns a parsed file into these, so an unknown key or a wrong type is an error
naming the file and the key. The tables that belong to a part of the engine
are that part's own types (``[database]``: ``DatabaseConfig``; ``[resources]``
and ``[sandbox]``: what a sandbox enforces and which one runs; ``[llm]``:
``evolve.config.llm``), so nothing is mapped field by field between a table and
the code that uses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from evolve.config.judge import JudgeConfig
from evolve.config.llm import LLMConfig
from evolve.config.meta import MetaConfig
from evolve.config.novelty import NoveltyConfig
from evolve.database import DatabaseConfig
from sandboxes.factory import SandboxConfig
from sandboxes.job import Resources

__all__ = ["EvaluationSpec", "FilesSpec", "ObjectiveSpec", "ProblemToml", "PromptSpec"]


@dataclass(frozen=True)
class ObjectiveSpec:
    """Which metric is the score, and which way is better."""

    metric: str = "score"
    direction: Literal["maximize", "minimize"] = "maximize"
    target: float | None = None  # stop the run once the best score reaches it
    # When the scorer returns no `metric`: "none" marks the program invalid,
    # "mean" uses the mean of the numeric metrics, booleans and feature metrics
    # left out (OpenEvolve's rule; the harness computes it and says so in the
    # "objective" artifact); cascade thresholds then compare the mean of the
    # stage's metrics but "error", as OpenEvolve's do.
    fallback: Literal["none", "mean"] = "none"

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"


@dataclass(frozen=True)
class EvaluationSpec:
    """How a candidate is scored."""

    timeout_s: float = 30.0
    cascade: bool = True  # use evaluate_stage1..N when the scorer defines them
    thresholds: list[float] = field(default_factory=list)  # after stage 1, 2, ...
    # Noisy scorers (evolve.engine.repeats): score every candidate this many
    # times (metrics are the means) ...
    repeats: int = 1
    # ... and a candidate that would be the new best this many times more first.
    confirm_best: int = 0

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
        if isinstance(self.repeats, bool) or not isinstance(self.repeats, int) or self.repeats < 1:
            raise ValueError(f"repeats must be an integer >= 1, got {self.repeats!r}")
        bad = isinstance(self.confirm_best, bool) or not isinstance(self.confirm_best, int)
        if bad or self.confirm_best < 0:
            raise ValueError(
                f"confirm_best must be an integer >= 0 (0 is off), got {self.confirm_best!r}"
            )


@dataclass(frozen=True)
class FilesSpec:
    """Which of a problem's files the sandbox gets, and which the candidate may read.

    Patterns are ``fnmatch`` patterns on paths relative to the problem folder
    (``*`` also matches ``/``). Every shipped file is the scorer's alone unless
    ``candidate_visible`` names it (the candidate's own program is always
    readable to it); ``not_shipped`` files never enter the sandbox (reference
    solutions, notes). Each pattern must match a file: a typo is an error.
    """

    candidate_visible: list[str] = field(default_factory=list)
    not_shipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PromptSpec:
    system: str = (
        "You are an expert programmer improving a program through evolutionary search. "
        "Propose a focused change that raises its score."
    )


@dataclass(frozen=True)
class GovernanceSpec:
    """[governance]: what a run waits for a human on (``evolve.engine.gate``).

    pause_on: "never" (the default) or "new_best": no proposal starts while the
    run's best (other than the seed) has no review decision
    (``evolve approve|reject``).
    """

    pause_on: Literal["never", "new_best"] = "never"


@dataclass(frozen=True)
class ProblemToml:
    """The schema of problem.toml; every table is optional but `name`."""

    name: str
    description: str = ""
    objective: ObjectiveSpec = field(default_factory=ObjectiveSpec)
    evaluation: EvaluationSpec = field(default_factory=EvaluationSpec)
    resources: Resources = field(default_factory=Resources)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    files: FilesSpec = field(default_factory=FilesSpec)
    prompt: PromptSpec = field(default_factory=PromptSpec)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    llm: LLMConfig | None = None  # models for `--model llm`
    governance: GovernanceSpec = field(default_factory=GovernanceSpec)
    novelty: NoveltyConfig = field(default_factory=NoveltyConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)  # LLM-judged metrics
    meta: MetaConfig = field(default_factory=MetaConfig)  # prompts that evolve
