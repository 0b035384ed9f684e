"""Synthetic runs written through the run store's own append API."""

from __future__ import annotations

import random
import time
from pathlib import Path

from evolve.records import Program, Status
from evolve.store import RunStore
from tests.core.problem_factory import write_problem

XSS = "</script><script>window.__pwned = 1</script><img src=x onerror=window.__pwned=2>"


def synthetic_run(root: Path, n: int, seed: int = 0, hostile: bool = False) -> Path:
    """A run of ``n`` programs: a random tree, scores rising with depth, islands 0-3."""
    rng = random.Random(seed)
    problem = write_problem(root / "problem")
    store = RunStore.create(root / "run", {"problem": "tiny", "seed": seed}, problem)
    programs: list[Program] = []
    now = time.time()
    for i in range(n):
        parent = programs[rng.randrange(len(programs))] if programs else None
        depth = parent.generation + 1 if parent else 0
        code = f"def value():\n    return {i}.0  # program {i}\n"
        if hostile and i == n - 1:
            code += f"# {XSS}\n"
        status = Status.OK if rng.random() > 0.1 or i == 0 else Status.INVALID
        score = depth + rng.random() if status == Status.OK else None
        if hostile and i == n - 1:
            status, score = Status.OK, 1e6  # make it the best: its code is shown on load
        program = Program(
            id=f"p{i:06d}",
            code=code,
            parent_ids=(parent.id,) if parent else (),
            island=i % 4,
            generation=depth,
            iteration=i,
            created_at=now + i,
            status=status,
            metrics={"score": score, "size": float(i % 7)} if score is not None else {},
            score=score,
            fitness=score,
            reason="" if score is not None else "rejected by the scorer",
            edit_kind="seed" if parent is None else "diff",
            model="" if parent is None else "offline",
        )
        programs.append(program)
        store.append_program(program)
        if i % 5000 == 4999:
            store.commit({})
    store.commit({})
    return root / "run"
