"""What candidates tried that their sandbox refused, read from a run's
``evaluations`` table (schema 7: ``probe_count``, ``probes``).

The sandbox records it (``evaluators._monitor``): a network connection, a write
outside the scratch, a read of a file the candidate may not read (the scorer's
data), a denied system call, a time, memory, process or output limit hit. One
program's evaluations are added up. ``show``, ``Run.programs`` and the report
flag the programs that tried, so a reviewer sees when the search starts
probing its sandbox or its scorer instead of solving the problem.

A program without a report (a run older than schema 7, a sandbox that
monitors nothing) is *unknown*, never counted as clean: its count is None.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from evolve.records import PROBE_KINDS
from evolve.store import RunStore

__all__ = ["PROBE_KINDS", "ProgramProbes", "RunProbes", "describe_counts", "read_probes"]


def describe_counts(counts: Mapping[str, int]) -> str:
    """``read 3, network 1``: the kinds tried, in ``PROBE_KINDS`` order ('' for none)."""
    return ", ".join(f"{k} {counts[k]}" for k in PROBE_KINDS if counts.get(k))


@dataclass
class ProgramProbes:
    """One program's attempts over its evaluations: counts by kind, the log's
    distinct lines (first seen first), the kinds its sandbox could see."""

    program_id: str
    iteration: int
    counts: dict[str, int] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def kinds(self) -> list[str]:
        """The kinds it tried, in ``PROBE_KINDS`` order."""
        return [k for k in PROBE_KINDS if self.counts.get(k)]

    def add(self, report: dict[str, Any]) -> None:
        for kind, n in report.get("counts", {}).items():
            self.counts[str(kind)] = self.counts.get(str(kind), 0) + int(n)
        self.log.extend(line for line in report.get("log", []) if line not in self.log)
        self.seen.update(report.get("seen", []))

    def describe(self) -> str:
        """``read 3, network 1`` (empty when it tried nothing)."""
        return describe_counts(self.counts)


@dataclass
class RunProbes:
    """Every monitored program of a run (by id), and how many evaluations had
    no report at all."""

    programs: dict[str, ProgramProbes]
    unmonitored: int

    def ranked(self) -> list[ProgramProbes]:
        """Every monitored program, most attempts first (then by iteration)."""
        return sorted(self.programs.values(), key=lambda p: (-p.total, p.iteration))

    @property
    def tried(self) -> list[ProgramProbes]:
        """The programs that tried something, most attempts first."""
        return [p for p in self.ranked() if p.total]

    def counts(self) -> dict[str, int]:
        """Attempts by kind over the whole run."""
        total = dict.fromkeys(PROBE_KINDS, 0)
        for program in self.programs.values():
            for kind, n in program.counts.items():
                total[kind] = total.get(kind, 0) + n
        return {k: n for k, n in total.items() if n}

    def summary(self) -> dict[str, Any]:
        """The run-level figures ``evolve show`` prints (JSON-ready)."""
        tried = self.tried
        return {
            "monitored": len(self.programs),
            "unmonitored_evaluations": self.unmonitored,
            "programs_tried": len(tried),
            "counts": self.counts(),
            "first_iteration": min((p.iteration for p in tried), default=None),
            "programs": [
                {
                    "id": p.program_id,
                    "iteration": p.iteration,
                    "counts": {k: p.counts[k] for k in p.kinds},
                    "first": p.log[0] if p.log else "",
                }
                for p in tried
            ],
        }


def read_probes(store: RunStore) -> RunProbes:
    """The behaviour reports of ``store``'s evaluations, by program."""
    table = store.read_table("evaluations", columns=["program_id", "iteration", "probes"])
    programs: dict[str, ProgramProbes] = {}
    unmonitored = 0
    for program_id, iteration, text in zip(
        table.column("program_id").to_pylist(),
        table.column("iteration").to_pylist(),
        table.column("probes").to_pylist(),
        strict=True,
    ):
        if text is None:
            unmonitored += 1
            continue
        entry = programs.setdefault(program_id, ProgramProbes(program_id, int(iteration)))
        entry.add(json.loads(text))
    return RunProbes(programs, unmonitored)
