"""`evolve branch`: start a new run from a program or a point of an earlier run.

Rolling back a search means going on from where it was good, without losing
what came after: the original run is only read, never written. Two ways in:

* ``--program ID``: the new run's seed is that program (scored again, as any
  seed is), on the original's problem copy and settings. Use it to evolve a
  promising line on its own, with other settings or another model.
* ``--checkpoint N``: the new run starts with the population as it was after
  iteration N: every program with an iteration up to N, recorded again in the
  new run (same ids, records, scores; a new record chain) and added to a fresh
  database in the order the original added them. The database's own random
  choices before N (migrations, resets) are not replayed: the islands hold the
  programs born on them. The run then goes on at iteration N + 1.

The new run's run.json records where it came from (``branched_from``: the
original's directory, its creation time and chain head, and the program or
iteration), and ``evolve show`` prints it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evolve.config import load_problem
from evolve.engine.runner import RunOutcome, options_from_settings, start_run
from evolve.engine.state import Progress, RunLimits
from evolve.errors import StoreError, UsageError
from evolve.store import RunStore

__all__ = ["branch_run"]


def branch_run(
    source: Path,
    out: Path,
    limits: RunLimits,
    program_id: str | None = None,
    checkpoint: int | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> RunOutcome:
    """A new run at ``out`` from ``program_id`` or from ``checkpoint`` (an
    iteration) of the run at ``source``, which is left untouched."""
    if (program_id is None) == (checkpoint is None):
        raise UsageError("evolve branch needs exactly one of --program ID and --checkpoint N")
    original = RunStore.open(source)
    settings = original.settings
    if Path(out).resolve() == Path(source).resolve():
        raise UsageError(f"{out}: a branch goes to a new directory, not the run it branches from")
    options = options_from_settings(settings, limits)
    head = (original.load_checkpoint(database=False) or {}).get("chain_head")
    origin: dict[str, Any] = {
        "run": str(Path(source).resolve()),
        "created_at": settings.get("created_at"),
        "chain_head": head,
    }
    provenance = {"problem_source": settings.get("problem_source"), "branched_from": origin}
    with tempfile.TemporaryDirectory(prefix="evolve-branch-") as tmp:
        problem_dir = Path(tmp) / "problem"
        shutil.copytree(original.problem_dir, problem_dir)
        if program_id is not None:
            try:
                program = original.get_program(program_id)
            except KeyError:
                raise UsageError(
                    f"{source}: has no program {program_id!r}; `evolve show {source}` lists "
                    "the best ones"
                ) from None
            load_problem(problem_dir).initial_path.write_text(program.code, encoding="utf-8")
            origin.update(program=program.id, record_hash=program.record_hash, score=program.score)
            return start_run(problem_dir, out, options, limits, on_progress, None, provenance)
        assert checkpoint is not None
        programs = list(original.load_programs().values())
        last = max((p.iteration for p in programs), default=-1)
        if not 0 <= checkpoint <= last:
            raise UsageError(
                f"{source}: has iterations 0..{last}; --checkpoint {checkpoint} is not one of them"
            )
        population = [p for p in programs if p.iteration <= checkpoint]
        if not any(p.edit_kind == "seed" for p in population):
            raise StoreError(f"{source}: its seed program is missing from the records")
        origin.update(checkpoint=checkpoint, programs=len(population))
        return start_run(problem_dir, out, options, limits, on_progress, population, provenance)
