"""The configurations a benchmark compares ("arms"): overlays over the problem.

An arm is a name and an overlay of ``[database]`` / ``[prompt]`` / ``[llm]``
keys (:func:`evolve.config.overrides.apply_overlay`) that every run of the arm
applies over the problem's own. Three are built in: ``evolve`` (the problem as
it is), ``novelty`` (the same with ``[novelty] enabled = true``) and
``best-of-n`` (every child a child of the seed, no inspirations, one island,
no novelty check, no stagnation: plain sampling at the same budget, the
baseline any search feature must beat). Others come from TOML files holding those tables
(``--arm strict=arms/strict.toml``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evolve.errors import UsageError

__all__ = ["BEST_OF_N", "BUILTIN_ARMS", "NOVELTY", "BenchArm", "parse_arm"]


@dataclass(frozen=True)
class BenchArm:
    name: str
    overlay: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = "built in"


BEST_OF_N = BenchArm(
    "best-of-n",
    {
        "database": {
            "selection": "seed",
            "selection_mix": {},  # a problem's own mix is for its own selection
            "num_islands": 1,
            "num_inspirations": 0,
            "top_inspirations": 0,
            "archive_inspirations": 0,
            "stagnation_window": 0,  # one island, never re-seeded or spawned
        },
        "novelty": {"enabled": False},  # every sample is scored, as plain sampling does
    },
)
# The problem as it is, with the novelty check on (offline hashed embedder,
# the default threshold): "novelty on vs off" is --arm evolve --arm novelty.
NOVELTY = BenchArm("novelty", {"novelty": {"enabled": True}})

BUILTIN_ARMS = {"evolve": BenchArm("evolve"), BEST_OF_N.name: BEST_OF_N, NOVELTY.name: NOVELTY}


def parse_arm(text: str) -> BenchArm:
    """``NAME`` (a built-in arm) or ``NAME=FILE.toml`` (an overlay file)."""
    name, _, path = text.partition("=")
    name = name.strip()
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise UsageError(f"--arm {text!r}: a name of letters, digits, '-' and '_' first")
    if not path:
        if name not in BUILTIN_ARMS:
            raise UsageError(
                f"--arm {name}: no such built-in arm ({', '.join(BUILTIN_ARMS)}); "
                f"or give a file of overlay tables: --arm {name}=FILE.toml"
            )
        return BUILTIN_ARMS[name]
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--arm {text}: cannot read {file}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"--arm {text}: {file} is not valid TOML: {exc}") from None
    return BenchArm(name, data, str(file))
