"""`evolve export RUN_DIR --best|--id ID [-o FILE]`: a program of a run as a file."""

from __future__ import annotations

from pathlib import Path

from evolve.analysis.run import Run
from evolve.errors import UsageError

__all__ = ["export_program"]


def export_program(
    run_dir: str | Path, program_id: str | None = None, out: str | Path | None = None
) -> Path:
    """Write ``program_id`` (default: the best program) of ``run_dir`` to ``out``
    (default: ``<run_dir>/best_<id>.py``); returns the path written."""
    run = Run.open(run_dir)
    if program_id is None:
        best = run.best(1)
        if best.empty:
            raise UsageError(f"{run_dir}: no scored program yet, nothing to export")
        program_id = str(best.index[0])
    elif program_id not in run.programs.index:
        raise UsageError(
            f"{run_dir}: has no program {program_id!r}; `evolve show {run_dir}` lists some"
        )
    path = Path(out) if out is not None else Path(run_dir) / f"best_{program_id}.py"
    path.write_text(run.code(program_id), encoding="utf-8")
    return path
