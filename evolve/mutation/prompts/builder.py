"""Build the chat messages for one proposal: system message, inspirations,
edit-format instructions, and the parent last.

The parent always comes last and its fence is tagged ```` ```python parent ````
so that both an LLM and the offline mutator server know which program to edit.
Formatting is deterministic (no timestamps, sorted metrics), so a prompt is a
pure function of its inputs, which record/replay relies on.

Size is bounded by ``max_prompt_chars`` (system + user message). When a prompt
is too long, it shrinks in this order: artifacts (halved until dropped), then
inspirations (the last first), then a crossover's second parent (the proposal
becomes a diff). The parent is never cut: if the parent alone is over the
limit, the minimal prompt is returned with ``over_limit`` set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evolve.config import PromptLimits
from evolve.edits import EDIT_KINDS
from evolve.mutation.prompts.templates import Templates, load_templates
from evolve.records import Program, Status

__all__ = ["BuiltPrompt", "PromptBuilder", "objective_phrase"]
MIN_ARTIFACT_CHARS = 80  # below this an artifact says nothing; drop it instead

# Metrics named "private.<key>" are stored and reported but never shown to the
# LLM (ShinkaEvolve's private metrics; any scorer may use the prefix).
PRIVATE_METRIC_PREFIX = "private."


@dataclass(frozen=True)
class BuiltPrompt:
    """The messages of one proposal and what had to be left out to fit."""

    messages: tuple[dict[str, str], ...]
    edit_kind: str  # may differ from the one asked for (crossover -> diff)
    second_parent_id: str | None
    inspirations_shown: int
    artifact_chars: int  # the per-artifact cap finally used (0 = none shown)
    chars: int
    over_limit: bool  # the parent alone did not fit in max_prompt_chars


def objective_phrase(metric: str, maximize: bool) -> str:
    """How the prompt names the objective, e.g. "score (higher is better)"."""
    return f"{metric} ({'higher' if maximize else 'lower'} is better)"


def cut_middle(text: str, limit: int) -> str:
    """``text`` with its middle replaced by a note when longer than ``limit``
    (tracebacks end with the error, feedback starts with the verdict)."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    head = limit // 2
    tail = limit - head
    return f"{text[:head]}\n[... {len(text) - limit} characters cut ...]\n{text[-tail:]}"


def cut_code(code: str, limit: int) -> str:
    """The first ``limit`` characters of ``code``, at a line boundary, with a note."""
    if len(code) <= limit:
        return code
    kept = code[:limit]
    kept = kept[: kept.rfind("\n") + 1]
    return f"{kept}# [... {len(code) - len(kept)} characters cut ...]\n"


def format_number(value: float) -> str:
    """Short, deterministic number text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.6g}"


def _fenced(code: str) -> str:
    return code if code.endswith("\n") else code + "\n"


def _defang(text: str) -> str:
    """Artifacts come from candidate output: keep them from opening code fences
    (a fake ```python parent block would hijack the prompt)."""
    return text.replace("```", "` ` `")


class PromptBuilder:
    """Renders prompts from templates under size limits."""

    def __init__(
        self,
        system: str,
        templates: Templates | None = None,
        limits: PromptLimits | None = None,
        objective: str = "score (higher is better)",
    ) -> None:
        self.system = system
        self.templates = templates or load_templates()
        self.limits = limits or PromptLimits()
        self.objective = objective

    @classmethod
    def for_problem(
        cls,
        problem_root: str | Path,
        system: str,
        limits: PromptLimits | None = None,
        objective: str = "score (higher is better)",
    ) -> PromptBuilder:
        """A builder using the problem's ``prompts/*.txt`` overrides, if any."""
        return cls(system, load_templates(problem_root), limits, objective)

    def summary(self, program: Program) -> str:
        """Score, status and metrics on one line or two."""
        score = "none" if program.score is None else format_number(program.score)
        text = f"score {score}"
        if program.status != Status.OK:
            text += f", status {program.status}"
            if program.reason:
                text += f" ({_defang(program.reason[:300])})"
        names = sorted(n for n in program.metrics if not n.startswith(PRIVATE_METRIC_PREFIX))
        shown = names[: self.limits.max_metrics]
        if shown:
            pairs = ", ".join(f"{n}={format_number(program.metrics[n])}" for n in shown)
            more = f" (+{len(names) - len(shown)} more)" if len(names) > len(shown) else ""
            text += f"; metrics: {pairs}{more}"
        return text

    def _artifacts(self, program: Program, cap: int) -> str:
        if cap <= 0 or not program.artifacts:
            return ""
        parts = ["Feedback from its evaluation:\n"]
        for name in sorted(program.artifacts):
            body = _defang(cut_middle(str(program.artifacts[name]), cap))
            parts.append(f"### {name}\n```text\n{_fenced(body)}```\n")
        return "\n".join(parts)

    def render(
        self,
        parent: Program,
        inspirations: Sequence[Program],
        edit_kind: str,
        second_parent: Program | None,
        artifact_cap: int,
    ) -> str:
        """The user message for exactly these parts (no shrinking)."""
        t = self.templates
        insp = "".join(
            t.render(
                "inspiration",
                index=i,
                program_id=p.id,
                summary=self.summary(p),
                code=_fenced(cut_code(p.code, self.limits.max_inspiration_chars)),
            )
            for i, p in enumerate(inspirations, start=1)
        )
        second = ""
        if second_parent is not None:
            second = t.render(
                "second_parent",
                program_id=second_parent.id,
                summary=self.summary(second_parent),
                code=_fenced(second_parent.code),
            )
        parent_text = t.render(
            "parent",
            program_id=parent.id,
            summary=self.summary(parent),
            artifacts=self._artifacts(parent, artifact_cap),
            code=_fenced(parent.code),
        )
        user = t.render(
            "user",
            objective=self.objective,
            second_parent=second,
            inspirations=insp,
            instructions=t.render(edit_kind).rstrip("\n"),
            parent=parent_text,
        )
        return user.rstrip() + "\n"

    def build(
        self,
        parent: Program,
        inspirations: Sequence[Program],
        edit_kind: str = "diff",
        system: str | None = None,
    ) -> BuiltPrompt:
        """Messages for a proposal of ``edit_kind``; a crossover takes its second
        parent from ``inspirations[0]`` (none -> a diff). ``system`` replaces the
        builder's system message (an evolved variant, with the scratchpad)."""
        system = self.system if system is None else system
        if edit_kind not in EDIT_KINDS:
            raise ValueError(f"unknown edit kind {edit_kind!r}; known: {EDIT_KINDS}")
        pool = list(inspirations)
        second = None
        if edit_kind == "crossover":
            if pool:
                second = pool.pop(0)
            else:
                edit_kind = "diff"
        pool = pool[: self.limits.max_inspirations]
        limit = self.limits.max_prompt_chars - len(system)
        cap = self.limits.max_artifact_chars
        while True:
            user = self.render(parent, pool, edit_kind, second, cap)
            if len(user) <= limit:
                break
            if cap > 0 and parent.artifacts:
                cap = cap // 2 if cap // 2 >= MIN_ARTIFACT_CHARS else 0
            elif pool:
                pool.pop()
            elif second is not None:
                second, edit_kind = None, "diff"
            else:
                break
        if not parent.artifacts:
            cap = 0
        messages = (
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        )
        return BuiltPrompt(
            messages=messages,
            edit_kind=edit_kind,
            second_parent_id=None if second is None else second.id,
            inspirations_shown=len(pool),
            artifact_chars=cap,
            chars=len(system) + len(user),
            over_limit=len(user) > limit,
        )
