"""`evolve export RUN_DIR --best|--id ID [-o FILE]`: a program of a run as a file;
`--approved [-o DIR]`: every program a reviewer approved (``evolve approve``)."""

from __future__ import annotations

from pathlib import Path

from evolve.analysis.review import approved_ids
from evolve.analysis.run import Run
from evolve.errors import UsageError

__all__ = ["export_approved", "export_program"]


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


def export_approved(run_dir: str | Path, out: str | Path | None = None) -> list[Path]:
    """Write each program whose latest review decision is an approval to
    ``out`` (a folder, default ``<run_dir>/approved/``) as ``<id>.py``; nothing
    else, so what leaves the run is what a human signed off."""
    ids = approved_ids(Path(run_dir))
    if not ids:
        raise UsageError(
            f"{run_dir}: no program is approved; `evolve review {run_dir}` lists those "
            "awaiting a decision"
        )
    run = Run.open(run_dir)
    folder = Path(out) if out is not None else Path(run_dir) / "approved"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for program_id in ids:
        path = folder / f"{program_id}.py"
        path.write_text(run.code(program_id), encoding="utf-8")
        written.append(path)
    return written
