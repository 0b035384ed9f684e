"""Synthetic runs written through the run store's own append API."""

from __future__ import annotations

import random
import time
from pathlib import Path

from evolve.records import Program, Status
from evolve.store import RunStore
from tests.problem_factory import TOML, write_problem

# Hostile program text: closes the data tag, opens a script, an event handler,
# and "<!--<script>" (which would put the HTML parser in its escaped state).
XSS = "</script><script>window.__pwned = 1</script><!--<script><img src=x onerror=window.__pwned=2>"


def synthetic_run(
    root: Path,
    n: int,
    seed: int = 0,
    hostile: bool = False,
    inspirations: bool = False,
    llm_cost: float = 0.0,
    minimize: bool = False,
) -> Path:
    """A run of ``n`` programs: a random tree, scores rising with depth (falling
    when ``minimize``), islands 0-3, 10% invalid. ``inspirations``: each child
    also names an older program as an inspiration. ``llm_cost``: one LLM call of
    that cost per child. ``hostile``: the last program carries ``XSS`` and is
    the best, so the report shows its code on load."""
    rng = random.Random(seed)
    toml = TOML.replace('"maximize"', '"minimize"') if minimize else TOML
    problem = write_problem(root / "problem", toml=toml)
    store = RunStore.create(root / "run", {"problem": "tiny", "seed": seed}, problem)
    programs: list[Program] = []
    now = time.time()
    sign = -1.0 if minimize else 1.0
    for i in range(n):
        parent = programs[rng.randrange(len(programs))] if programs else None
        parents: tuple[str, ...] = (parent.id,) if parent else ()
        if inspirations and parent is not None and i > 2:
            other = programs[rng.randrange(len(programs))]
            if other.id != parent.id:
                parents = (*parents, other.id)
        depth = parent.generation + 1 if parent else 0
        code = f"def value():\n    return {i}.0  # program {i}\n"
        status = Status.OK if rng.random() > 0.1 or i == 0 else Status.INVALID
        score = sign * (depth + rng.random()) if status == Status.OK else None
        if hostile and i == n - 1:
            code += f"# {XSS}\n"
            status, score = Status.OK, sign * 1e6  # the best: its code is shown on load
        call_id = None
        if llm_cost and parent is not None:
            call_id = f"c{i:06d}"
            store.append_llm_call(
                {
                    "id": call_id,
                    "model": "model-a" if i % 2 else "model-b",
                    "prompt_tokens": 100,
                    "completion_tokens": 20,
                    "cost_usd": llm_cost,
                    "latency_s": 0.5,
                    "retries": 0,
                    "created_at": now + i - 0.5,
                }
            )
        program = Program(
            id=f"p{i:06d}",
            code=code,
            parent_ids=parents,
            island=i % 4,
            generation=depth,
            iteration=i,
            created_at=now + i,
            status=status,
            metrics={"score": score, "size": float(i % 7)} if score is not None else {},
            score=score,
            fitness=None if score is None else sign * score,
            reason="" if score is not None else "rejected by the scorer",
            edit_kind="seed" if parent is None else "diff",
            model="" if parent is None else "offline",
            llm_call_id=call_id,
        )
        programs.append(program)
        store.append_program(program)
        if i % 5000 == 4999:
            store.commit({})
    store.commit({})
    return root / "run"
