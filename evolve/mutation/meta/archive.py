"""The system-prompt archive: variants, the score gains of their children, and
the UCB1 choice of one per proposal.

Everything is read "as of" a proposal's ``at`` (programs in the database when
it was drawn): a variant is choosable from the ``at`` it was written for until
the one it was replaced at, and its statistics count only the outcomes
observed before the database reached ``at``. In the deterministic schedule
those are the same in every run, whatever finished meanwhile, so a replay
chooses the same variants.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field
from typing import Any

from evolve.mutation.bandit import Arm, ucb_scores

__all__ = ["ORIGINAL", "PromptArchive", "Variant"]

ORIGINAL = "original"  # the id of the problem's own system prompt
NEVER = 2**62  # "not retired"


@dataclass
class Variant:
    """One system prompt: choosable for ``since <= at < retired``."""

    id: str
    text: str
    since: int
    retired: int = NEVER
    # the outcomes of its proposals, in observation order (``ats`` non-decreasing)
    ats: list[int] = field(default_factory=list)
    cumulative: list[float] = field(default_factory=list)  # running total of the gains
    base_children: int = 0  # outcomes folded in by a resume (all before any new at)
    base_gain: float = 0.0

    def as_of(self, at: int) -> tuple[int, float]:
        """(children, total positive gain) observed before the database reached ``at``."""
        k = bisect.bisect_left(self.ats, at)
        return self.base_children + k, self.base_gain + (self.cumulative[k - 1] if k else 0.0)

    def live(self, at: int) -> bool:
        return self.since <= at < self.retired


class PromptArchive:
    """At most ``size`` live variants, the problem's own among them for good."""

    def __init__(self, original: str, size: int, exploration: float) -> None:
        self.size = size
        self.exploration = exploration
        self.variants: dict[str, Variant] = {ORIGINAL: Variant(ORIGINAL, original, since=0)}

    def choose(self, rng: random.Random, at: int) -> Variant:
        """The variant for a proposal drawn at ``at`` (UCB1 on mean gain; an
        untried variant first; ties broken by ``rng``)."""
        live = [v for v in self.variants.values() if v.live(at)]
        if len(live) == 1:
            return live[0]
        arms = []
        for variant in live:
            children, gain = variant.as_of(at)
            arms.append(Arm(pulls=children, improvement=gain))
        scores = ucb_scores(arms, self.exploration)
        top = max(scores)
        tied = [v for v, s in zip(live, scores, strict=True) if s == top]
        return tied[0] if len(tied) == 1 else rng.choice(tied)

    def report(self, variant_id: str | None, at: int, gain: float | None) -> None:
        """An outcome of a proposal asked with ``variant_id`` (a worse or failed
        child counts as no gain, as for the model bandit)."""
        variant = self.variants.get(variant_id or "")
        if variant is None:
            return
        counted = max(0.0, gain) if gain is not None and math.isfinite(gain) else 0.0
        variant.ats.append(at)
        variant.cumulative.append((variant.cumulative[-1] if variant.cumulative else 0.0) + counted)

    def records(self, at: int) -> list[tuple[Variant, int, float]]:
        """The live variants as of ``at`` with (children, mean gain), best first."""
        rows = []
        for variant in self.variants.values():
            if variant.live(at):
                children, gain = variant.as_of(at)
                rows.append((variant, children, gain / children if children else 0.0))
        rows.sort(key=lambda row: (-row[2], row[0].since))
        return rows

    def add(self, variant_id: str, text: str, at: int) -> str | None:
        """Make ``text`` choosable from ``at``; past ``size``, retire the live
        variant with the lowest mean gain among those with children (never the
        original; an untried one only when none has children). Returns the id
        retired, if any."""
        retired = None
        live = self.records(at)
        if len(live) >= self.size:
            candidates = [row for row in live if row[0].id != ORIGINAL]
            # a variant no child has reported on yet has not had its chance
            tried = [row for row in candidates if row[1] > 0]
            if candidates:
                worst = min(tried or candidates, key=lambda row: (row[2], -row[0].since))[0]
                worst.retired = at
                retired = worst.id
        self.variants[variant_id] = Variant(variant_id, text, since=at)
        return retired

    # -- checkpoint -------------------------------------------------------------------

    def snapshot(self) -> list[dict[str, Any]]:
        """Each variant with its statistics folded into totals (a resumed run's
        proposals are all drawn after them)."""
        out = []
        for variant in self.variants.values():
            children, gain = variant.as_of(NEVER)
            out.append(
                {
                    "id": variant.id,
                    "text": variant.text,
                    "since": variant.since,
                    "retired": variant.retired,
                    "children": children,
                    "gain": gain,
                }
            )
        return out

    def restore(self, state: list[dict[str, Any]]) -> None:
        self.variants = {}
        for row in state:
            self.variants[row["id"]] = Variant(
                row["id"],
                row["text"],
                since=int(row["since"]),
                retired=int(row["retired"]),
                base_children=int(row["children"]),
                base_gain=float(row["gain"]),
            )
