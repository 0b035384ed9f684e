"""Fault injection for the mutator server: what goes wrong, and when.

A real LLM endpoint rate-limits, fails, hangs and answers nonsense; the client
side of evolve (and of peer frameworks) must survive all of it. ``FaultPlan``
describes how often and which faults a server injects, and the outcome of a
request is a pure function of (plan, fault seed, request number), so a test or
a robustness benchmark that sends requests one at a time sees the exact same
sequence every run. Under concurrency the numbers are handed out in arrival
order, which is the only nondeterminism left.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from evolve.edits import MarkerError, evolve_regions, is_marker_line, split_lines
from evolve.mutation import MutationError
from evolve.mutation.offline import extract_programs

__all__ = [
    "CONTENT_FAULTS",
    "FAULT_KINDS",
    "HTTP_FAULTS",
    "OK",
    "OUTCOMES",
    "FaultPlan",
    "bad_search_reply",
    "garbage_reply",
    "outside_block_reply",
]

OK = "ok"
# Faults answered with an HTTP error status (or no answer at all, for "hang").
HTTP_FAULTS = ("429_retry_after", "429", "500", "503", "hang")
# Faults answered 200 with a completion the client must reject on its own.
CONTENT_FAULTS = ("empty_choices", "garbage", "bad_search", "outside_block")
FAULT_KINDS = HTTP_FAULTS + CONTENT_FAULTS
# Everything a scripted sequence may name.
OUTCOMES = (OK, *FAULT_KINDS)


def _equal_weights() -> dict[str, float]:
    return dict.fromkeys(FAULT_KINDS, 1.0)


@dataclass(frozen=True)
class FaultPlan:
    """How a server misbehaves.

    ``script`` fixes the outcome of the first ``len(script)`` chat-completion
    requests (each an entry of ``OUTCOMES``, "ok" included), so a test can force
    an exact sequence such as ``["429_retry_after", "ok", "500"]``. After the
    script, each request fails with probability ``fail_rate``, the fault kind
    drawn by ``weights`` (default: every kind equally). ``seed`` seeds that
    draw; None means the server's seed. ``retry_after_s`` is the Retry-After
    value of "429_retry_after"; ``hang_s`` is how long "hang" holds the
    connection before closing it unanswered (longer than the client's timeout;
    closing the server ends it early).
    """

    fail_rate: float = 0.0
    weights: Mapping[str, float] = field(default_factory=_equal_weights)
    script: Sequence[str] = ()
    retry_after_s: float = 1.0
    hang_s: float = 30.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.fail_rate <= 1.0:
            raise ValueError(f"fail_rate must be in [0, 1], got {self.fail_rate}")
        unknown = set(self.weights) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {list(FAULT_KINDS)}")
        if any(w < 0 for w in self.weights.values()):
            raise ValueError(f"fault weights must be >= 0, got {dict(self.weights)}")
        if self.fail_rate > 0 and not any(w > 0 for w in self.weights.values()):
            raise ValueError("fail_rate > 0 needs at least one fault kind with weight > 0")
        bad = [kind for kind in self.script if kind not in OUTCOMES]
        if bad:
            raise ValueError(f"unknown outcomes {bad} in script; known: {list(OUTCOMES)}")
        if self.retry_after_s < 0:
            raise ValueError(f"retry_after_s must be >= 0, got {self.retry_after_s}")
        if self.hang_s <= 0:
            raise ValueError(f"hang_s must be > 0, got {self.hang_s}")
        # Freeze the containers so a plan can be shared between servers safely.
        object.__setattr__(self, "weights", dict(self.weights))
        object.__setattr__(self, "script", tuple(self.script))

    def outcome(self, index: int, default_seed: int = 0) -> str:
        """The outcome of the ``index``-th (0-based) chat-completion request.

        Each index gets its own RNG (seeded from a hash, never Python's
        ``hash()``), so the outcome does not depend on earlier draws.
        """
        if index < len(self.script):
            return self.script[index]
        if self.fail_rate <= 0:
            return OK
        seed = self.seed if self.seed is not None else default_seed
        digest = hashlib.sha256(f"evolve-fault:{seed}:{index}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        if rng.random() >= self.fail_rate:
            return OK
        kinds = [k for k in FAULT_KINDS if self.weights.get(k, 0) > 0]
        return rng.choices(kinds, [self.weights[k] for k in kinds])[0]


# -- content faults ----------------------------------------------------------------

_GARBAGE = (
    "Looking at the current program, the main opportunity is in the search loop: the "
    "step size is fixed, so the search either overshoots or crawls. I would anneal the "
    "step, restart from the best point found so far, and evaluate a few more candidates "
    "per iteration. These changes should improve the score noticeably.",
    "The program is already reasonable. To improve it further, consider vectorising the "
    "inner loop and caching repeated evaluations; a smarter initial guess would also "
    "help convergence. Let me know if you would like me to write the code.",
    "I have analysed the metrics above. The weakest part is the handling of edge cases "
    "near the boundary, which costs most of the score. Tightening the constants and "
    "adding a final local refinement step is the most promising direction.",
)


def _parent(prompt_text: str) -> str | None:
    try:
        return extract_programs(prompt_text)[0]
    except MutationError:
        return None


def garbage_reply(seed: int) -> str:
    """Plausible prose with no SEARCH/REPLACE block (a model that forgot the format)."""
    return _GARBAGE[seed % len(_GARBAGE)]


def bad_search_reply(prompt_text: str, seed: int) -> str:
    """A well-formed edit whose SEARCH text is not in the parent (a model that
    misremembered a line), so applying it fails with "search_not_found"."""
    parent = _parent(prompt_text) or ""
    present = {line.strip() for line in split_lines(parent)}
    n = seed % 1000
    line = f"    step_size = adapt(step_size, {n})  # decay"
    while line.strip() in present:
        n += 1
        line = f"    step_size = adapt(step_size, {n})  # decay"
    new = line.replace("# decay", "# faster decay").replace(f", {n})", f", {n + 1})")
    return (
        "Adapting the step size faster should converge sooner.\n\n"
        f"<<<<<<< SEARCH\n{line}\n=======\n{new}\n>>>>>>> REPLACE\n"
    )


def outside_block_reply(prompt_text: str, seed: int) -> str | None:
    """A well-formed edit that changes a line outside every EVOLVE-BLOCK of the
    parent (rejected with "outside_evolve_block"); None when the prompt holds
    no parent to aim at."""
    parent = _parent(prompt_text)
    if parent is None:
        return None
    lines = split_lines(parent)
    try:
        regions = evolve_regions(parent)
    except MarkerError:
        return None
    inside = {n - 1 for r in regions for n in range(r.start_line, r.end_line + 1)}
    contents = [line.rstrip("\r\n") for line in lines]
    for i, text in enumerate(contents):
        if i in inside or not text.strip() or is_marker_line(text) or contents.count(text) != 1:
            continue
        return (
            "The helper outside the evolvable block should be tuned as well.\n\n"
            f"<<<<<<< SEARCH\n{text}\n=======\n{text}  # tuned ({seed % 100})\n"
            ">>>>>>> REPLACE\n"
        )
    # Nothing unique outside the regions: append after the file's last line
    # (always past the final END marker), using a tail that occurs once.
    top = len(contents) - 1
    while top > 0 and (
        not any(line.strip() for line in contents[top:])
        or sum(contents[i : i + len(contents) - top] == contents[top:] for i in range(top + 1)) != 1
    ):
        top -= 1
    tail = "\n".join(contents[top:])
    return (
        "A module-level flag makes the behaviour configurable.\n\n"
        f"<<<<<<< SEARCH\n{tail}\n=======\n{tail}\nTUNED = {seed % 100}\n>>>>>>> REPLACE\n"
    )
