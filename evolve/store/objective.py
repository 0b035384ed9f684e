"""The objective a run store reads its direction from, for runs that did not
record one: the [objective] table of the problem copy's problem.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

from evolve.errors import StoreError

__all__ = ["objective_of"]


def objective_of(problem_dir: Path) -> dict[str, str]:
    """The [objective] table of a problem folder's problem.toml (metric and
    direction, with their defaults); an OpenEvolve folder maximises
    ``combined_score``. Only for callers that did not name the objective, and for
    runs whose run.json predates recording it."""
    toml_path = Path(problem_dir) / "problem.toml"
    if not toml_path.is_file():
        return {"metric": "combined_score", "direction": "maximize"}
    try:
        table = tomllib.loads(toml_path.read_text(encoding="utf-8")).get("objective", {})
    except tomllib.TOMLDecodeError as exc:
        raise StoreError(f"{toml_path}: not valid TOML ({exc})") from exc
    return {
        "metric": str(table.get("metric", "score")),
        "direction": str(table.get("direction", "maximize")),
    }
