"""The offline mutator: real edits by program transformation, no LLM.

It answers exactly as an LLM would (prose, then SEARCH/REPLACE blocks), so the
controller, the edit engine and the OpenAI-compatible test server all run the
same path as with a model. A proposal is a pure function of (parent,
inspirations, seed): each call builds its own ``random.Random(seed)``.

Every proposal is checked before it is returned: the child parses, differs from
the parent, and ``apply_edit(parent, proposal)`` gives exactly that child. A
C-like parent (braces or semicolons in its blocks, ``// EVOLVE-BLOCK-START``)
gets the token-level operators of ``clike`` instead, checked for balanced
brackets (there is no compiler here).
"""

from __future__ import annotations

import difflib
import hashlib
import random
import re
from collections.abc import Mapping, Sequence

from evolve.edits import (
    EditError,
    MarkerError,
    SearchReplace,
    apply_edit,
    evolve_regions,
    format_search_replace,
    split_lines,
)
from evolve.mutation.offline.clike import CLIKE_OPERATORS, CLIKE_WEIGHTS, balanced, looks_clike
from evolve.mutation.offline.operators import OPERATORS, donor_lines, parses
from evolve.mutation.protocol import MutationError

__all__ = [
    "DEFAULT_WEIGHTS",
    "OfflineMutator",
    "extract_programs",
    "propose_for_messages",
    "propose_for_prompt",
]

# Constant tuning dominates because it is what most often improves a numeric
# seed; structural operators keep the search from stalling on one shape.
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "perturb_number": 0.55,
    "swap_arithmetic": 0.08,
    "swap_comparison": 0.05,
    "flip_boolean": 0.04,
    "drop_statement": 0.07,
    "duplicate_statement": 0.06,
    "splice_inspiration": 0.15,
}
_OPS_PER_EDIT = ((1, 0.65), (2, 0.25), (3, 0.10))
_ATTEMPTS = 40


class OfflineMutator:
    """Proposes SEARCH/REPLACE edits by transforming the parent's EVOLVE-BLOCKs."""

    def __init__(self, weights: Mapping[str, float] | None = None) -> None:
        weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
        unknown = set(weights) - set(OPERATORS)
        if unknown:
            raise ValueError(f"unknown operators {sorted(unknown)}; known: {sorted(OPERATORS)}")
        if not any(w > 0 for w in weights.values()) or any(w < 0 for w in weights.values()):
            raise ValueError(f"operator weights must be >= 0 with one > 0, got {weights}")
        self.weights = weights

    def propose(self, parent_code: str, inspirations: Sequence[str] = (), *, seed: int) -> str:
        """An edit (LLM-style reply text) turning ``parent_code`` into a new child."""
        try:
            regions = evolve_regions(parent_code)
        except MarkerError as exc:
            raise MutationError(f"the parent's EVOLVE-BLOCK markers are malformed: {exc}") from exc
        if not regions:
            raise MutationError("the parent has no EVOLVE-BLOCK region to mutate")
        rng = random.Random(seed)
        operators, valid, table = OPERATORS, parses, self.weights
        donors: list[str] = []
        if parses(parent_code):
            donors = donor_lines(inspirations)
        elif looks_clike(parent_code) and balanced(parent_code):
            operators, valid, table = CLIKE_OPERATORS, balanced, CLIKE_WEIGHTS
        else:
            raise MutationError(
                "the parent does not parse as Python and is not C-like code with balanced "
                "brackets, so no edit can yield a valid child"
            )
        names = [n for n, w in table.items() if w > 0 and (n != "splice_inspiration" or donors)]
        weights = [table[n] for n in names]
        for _ in range(_ATTEMPTS):
            n_ops = rng.choices([n for n, _ in _OPS_PER_EDIT], [p for _, p in _OPS_PER_EDIT])[0]
            child, notes = parent_code, []
            for _ in range(n_ops):
                name = rng.choices(names, weights)[0]
                result = operators[name](child, rng, donors)
                if result is not None and valid(result[0]):
                    child = result[0]
                    notes.append(result[1])
            if child == parent_code:
                continue
            edit = _edit_text(parent_code, child, notes)
            if edit is not None:
                return edit
        raise MutationError(
            f"no transformation applied after {_ATTEMPTS} attempts: none of the operators "
            f"{names} found anything to change in the EVOLVE-BLOCK that is still valid"
        )


def _hunks(parent: list[str], child: list[str]) -> list[tuple[int, int, list[str]]]:
    """Changed spans, in order: (start, end) in ``parent`` lines and the new
    lines. Changes less than two lines apart share a hunk, so one SEARCH block
    covers them; distant changes get blocks of their own, as an LLM would write."""
    hunks: list[tuple[int, int, list[str]]] = []
    p_regions = evolve_regions("".join(parent))
    c_regions = evolve_regions("".join(child))
    for pr, cr in zip(p_regions, c_regions, strict=True):
        old = parent[pr.start_line : pr.end_line - 1]
        new = child[cr.start_line : cr.end_line - 1]
        matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
        merged: list[list[int]] = []
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            if merged and i1 - merged[-1][1] < 2:
                merged[-1][1], merged[-1][3] = i2, j2
            else:
                merged.append([i1, i2, j1, j2])
        base = pr.start_line
        hunks.extend((base + i1, base + i2, new[j1:j2]) for i1, i2, j1, j2 in merged)
    return hunks


def _occurrences(lines: list[str], window: list[str]) -> int:
    """How often ``window`` occurs, comparing lines without their endings as
    the edit engine does."""
    keys = [line.rstrip("\r\n") for line in lines]
    want = [line.rstrip("\r\n") for line in window]
    n = len(want)
    return sum(keys[i : i + n] == want for i in range(len(keys) - n + 1))


def _edit_text(parent_code: str, child_code: str, notes: list[str]) -> str | None:
    """SEARCH/REPLACE text turning parent into child, each SEARCH widened with
    context lines until it is unique where it applies; None if impossible."""
    current = split_lines(parent_code)
    shift = 0  # hunks are in parent coordinates; earlier hunks move later ones
    blocks = []
    for lo, hi, new in _hunks(current, split_lines(child_code)):
        lo, hi = lo + shift, hi + shift
        top, bottom, grow_up = lo, hi, True
        while not (
            any(line.strip() for line in current[top:bottom])
            and _occurrences(current, current[top:bottom]) == 1
        ):
            can_up, can_down = top > 0, bottom < len(current)
            if not (can_up or can_down):
                return None
            if can_up and (grow_up or not can_down):
                top -= 1
            else:
                bottom += 1
            grow_up = not grow_up
        replaced = current[top:lo] + new + current[hi:bottom]
        blocks.append(SearchReplace("".join(current[top:bottom]), "".join(replaced)))
        current[lo:hi] = new
        shift += len(new) - (hi - lo)
    text = "Offline mutation: " + "; ".join(notes) + ".\n\n" + format_search_replace(blocks)
    try:
        if apply_edit(parent_code, text) != child_code:
            return None
    except EditError:
        return None
    return text


# -- prompts (for the OpenAI-compatible server) -----------------------------------

_FENCE = re.compile(r"^```[ \t]*(?:python|py)\b([^\n]*)\n(.*?)^```[ \t]*$", re.M | re.S)


def extract_programs(prompt_text: str) -> tuple[str, list[str]]:
    """(parent, inspirations) from a prompt's fenced ```python blocks.

    Convention: the parent is the block whose fence line says ``parent``
    (```` ```python parent ````) if any, else the LAST ```python block that
    holds EVOLVE-BLOCK markers (prompts put the current program last, as
    OpenEvolve's do). Every other ```python block is an inspiration.
    """
    found = [(m.group(1), m.group(2)) for m in _FENCE.finditer(prompt_text)]
    tagged = [i for i, (info, _) in enumerate(found) if "parent" in info.lower()]
    marked = [i for i, (_, code) in enumerate(found) if _has_regions(code)]
    if not (tagged or marked):
        raise MutationError(
            "the prompt holds no ```python block with EVOLVE-BLOCK markers; put the current "
            "program in a ```python fence (optionally tagged ```python parent)"
        )
    index = tagged[-1] if tagged else marked[-1]
    return found[index][1], [code for i, (_, code) in enumerate(found) if i != index]


def _has_regions(code: str) -> bool:
    try:
        return bool(evolve_regions(code))
    except MarkerError:
        return False


def _seed_of(text: str) -> int:
    """A stable seed for a prompt that came without one (never Python's hash())."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def propose_for_prompt(prompt_text: str, seed: int | None = None) -> str:
    """The offline mutator's reply to a prompt (see ``extract_programs``);
    without a seed the reply is a deterministic function of the prompt."""
    parent, inspirations = extract_programs(prompt_text)
    return OfflineMutator().propose(
        parent, inspirations, seed=_seed_of(prompt_text) if seed is None else seed
    )


def propose_for_messages(messages: Sequence[Mapping[str, object]], seed: int | None = None) -> str:
    """``propose_for_prompt`` over chat messages (``[{"role", "content"}]``)."""
    parts = []
    for message in messages:
        content = message.get("content") or ""
        if isinstance(content, list):  # OpenAI content parts
            content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        parts.append(str(content))
    text = "\n\n".join(parts)
    return propose_for_prompt(text, seed)
