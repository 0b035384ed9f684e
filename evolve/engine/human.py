"""`evolve propose`: a human-written child, evaluated and recorded like any other.

A researcher who sees what the search is missing can write the next program
by hand. It enters the run as a child of the program it was written from
(``--parent``), with ``model = "human"`` and ``edit_kind = "human"``: it is
scored in the run's sandbox, added to the database (so it can be a parent and
migrate like any child) and recorded in the run store, and the run's counters
go on after it. Like an LLM's edit it may change only the EVOLVE-BLOCK bodies:
the text around them is the problem's, fixed for every program, so a file
whose fixed text differs from the parent's is refused, as is one without
markers or one that repeats a known program.
"""

from __future__ import annotations

import time
from pathlib import Path

from evolve.database import normalized_code_hash
from evolve.edits.regions import MarkerError, require_evolve_regions
from evolve.engine.controller import Controller, _id_for
from evolve.errors import UsageError
from evolve.records import Program

__all__ = ["HUMAN", "check_human_code", "evaluate_human"]

HUMAN = "human"  # the model and edit kind of a hand-written child


def check_human_code(parent: Program, code: str, source: Path) -> None:
    """Refuse a file that is not a child the run could have bred from ``parent``."""
    try:
        regions = require_evolve_regions(code, str(source))
    except MarkerError as exc:
        raise UsageError(f"{exc} (a proposed program keeps the parent's markers)") from exc
    parent_regions = require_evolve_regions(parent.code)
    if _fixed_text(code, regions) != _fixed_text(parent.code, parent_regions):
        raise UsageError(
            f"{source}: changes text outside the EVOLVE-BLOCK regions; only the blocks may "
            f"differ from the parent {parent.id} (see `evolve export RUN --id {parent.id}`)"
        )


def _fixed_text(code: str, regions: list) -> str:  # type: ignore[type-arg]
    pieces, position = [], 0
    for region in regions:
        pieces.append(code[position : region.start])
        position = region.end
    pieces.append(code[position:])
    return "\x00".join(pieces)


async def evaluate_human(
    controller: Controller, parent_id: str, code: str, source: Path
) -> Program:
    """Score ``code`` as a child of ``parent_id`` and record it; committed on return."""
    try:
        parent = controller.store.get_program(parent_id)
    except KeyError:
        raise UsageError(
            f"{controller.store.root}: has no program {parent_id!r} to be the parent; "
            f"`evolve show {controller.store.root}` lists the best ones"
        ) from None
    check_human_code(parent, code, source)
    known = controller.database.find_duplicate(code)
    if known is not None:
        raise UsageError(
            f"{source}: is program {known} again (up to comments and whitespace); "
            "nothing to evaluate"
        )
    progress = controller.progress
    iteration = progress.next_iteration
    progress.next_iteration += 1
    child = Program(
        id=_id_for(iteration),
        code=code,
        parent_ids=(parent.id,),
        island=parent.island,
        generation=parent.generation + 1,
        iteration=iteration,
        created_at=time.time(),
        edit_kind=HUMAN,
        model=HUMAN,
    )
    key = normalized_code_hash(code)
    controller._in_flight[key] = child.id
    try:
        result = await controller._run_job(child)
    finally:
        controller._in_flight.pop(key, None)
    program = controller.recorder.evaluated(child, result)
    controller.commit()
    return program
