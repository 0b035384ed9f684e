"""Read a ShinkaEvolve problem folder (initial.py + evaluate.py, run configs beside).

ShinkaEvolve keeps a problem's run settings outside the scorer: in a YAML run
config (``shinka_small.yaml``: ``db_config``, ``evo_config`` and worker counts)
and in ``run_evo.py``, the script that starts its runner
(``LocalJobConfig(time="00:05:00")``, sometimes ``DatabaseConfig(...)``). We
translate what means the same thing here (the island model and the archive,
the evaluation time limit), type-check it strictly, and list the rest as
ignored once, as :mod:`evolve.config.openevolve` does for OpenEvolve's
config.yaml. ``run_evo.py`` is read, never run: it imports ShinkaEvolve's
runner and its LLM stack.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from evolve.config.problem_toml import ProblemToml
from evolve.config.strict import from_mapping
from evolve.errors import ConfigError

__all__ = [
    "RUN_SCRIPT",
    "load_shinka_spec",
    "read_run_config",
    "read_run_script",
    "run_configs",
    "translate_shinka_config",
]

log = logging.getLogger(__name__)

RUN_SCRIPT = "run_evo.py"
"""ShinkaEvolve's launcher script of a folder; read for its literal settings."""

# db_config key -> [database] key, where the two mean the same thing
_DB_MAP = {
    "num_islands": "num_islands",
    "archive_size": "archive_size",
    "migration_interval": "migration_interval",
    "migration_rate": "migration_fraction",
    "parent_selection_lambda": "weighted_lambda",
}
# ShinkaEvolve's own defaults (shinka/database/dbase.py DatabaseConfig) for the
# keys mapped here, so a folder that leaves them out behaves as it does there.
_DB_DEFAULTS: dict[str, Any] = {
    "num_islands": 2,
    "archive_size": 40,
    "migration_interval": 10,
    "migration_fraction": 0.0,
    "selection": "weighted",  # ShinkaEvolve's sigmoid-of-fitness / children weighting
    "weighted_lambda": 10.0,
    "archive_policy": "fitness",
}
# The Python examples' run_evo.py give LocalJobConfig(time="00:05:00"); a local
# job without one has no fixed limit in ShinkaEvolve (only its hung-job check).
DEFAULT_TIMEOUT_S = 300.0
_SECTIONS_READ = ("db_config",)  # the other sections are run settings (LLMs, budget, workers)


def run_configs(root: Path) -> list[str]:
    """The folder's ShinkaEvolve run configs: its top-level *.yaml files with a
    ``db_config:`` or ``evo_config:`` section (sorted names)."""
    found = []
    for path in sorted(root.glob("*.yaml")):
        loaded = _load_yaml(path, strict=False)
        if isinstance(loaded, Mapping) and ({"db_config", "evo_config"} & set(loaded)):
            found.append(path.name)
    return found


def _load_yaml(path: Path, strict: bool = True) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        if strict:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        return None


def _literal_keywords(tree: ast.Module, callee: str) -> dict[str, Any]:
    """The literal keyword arguments of the first call to ``callee`` in ``tree``
    (``time="00:05:00"``); computed or ``**`` arguments are left out."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name != callee:
            continue
        found: dict[str, Any] = {}
        for keyword in node.keywords:
            if keyword.arg is None:
                continue
            try:
                found[keyword.arg] = ast.literal_eval(keyword.value)
            except ValueError:
                continue
        return found
    return {}


def read_run_script(root: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """run_evo.py's literal ``LocalJobConfig(...)`` and ``DatabaseConfig(...)``
    keywords (empty when the file is absent or does not parse)."""
    path = root / RUN_SCRIPT
    if not path.is_file():
        return {}, {}
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return {}, {}
    return _literal_keywords(tree, "LocalJobConfig"), _literal_keywords(tree, "DatabaseConfig")


def _seconds(text: Any, source: str) -> float:
    """ShinkaEvolve's ``"HH:MM:SS"`` job time in seconds."""
    parts = str(text).split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        hours, minutes, seconds = (float(p) for p in parts)
    except ValueError:
        raise ConfigError(
            f"{source}: LocalJobConfig time {text!r} is not HH:MM:SS (e.g. '00:05:00')"
        ) from None
    return hours * 3600 + minutes * 60 + seconds


def read_run_config(root: Path, config_name: str) -> Mapping[str, Any]:
    """A run config of the folder, checked to be a mapping of sections."""
    path = root / config_name
    loaded = _load_yaml(path)
    if loaded is not None and not isinstance(loaded, Mapping):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    db_config = (loaded or {}).get("db_config")
    if db_config is not None and not isinstance(db_config, Mapping):
        raise ConfigError(f"{path}: db_config must be a mapping of keys")
    return loaded or {}


def translate_shinka_config(
    db_config: Mapping[str, Any], name: str, timeout_s: float = DEFAULT_TIMEOUT_S
) -> tuple[dict[str, Any], list[str]]:
    """Map a ShinkaEvolve ``db_config`` to a problem.toml-shaped dict, with
    ShinkaEvolve's defaults for the mapped keys it leaves out.

    Returns the translated dict and the names of the keys that were ignored
    (``db_config.<key>``)."""
    database = dict(_DB_DEFAULTS)
    ignored: list[str] = []
    for key, value in db_config.items():
        target = _DB_MAP.get(str(key))
        if target is not None:
            database[target] = value
        elif key == "parent_selection_strategy" and value == "weighted":
            database["selection"] = "weighted"
        elif key == "archive_selection_strategy" and value in ("fitness", "crowding"):
            database["archive_policy"] = value
        elif key != "db_path":  # where ShinkaEvolve keeps its SQLite file
            ignored.append(f"db_config.{key}")
    out = {
        "name": name,
        "objective": {"metric": "combined_score", "direction": "maximize"},
        "evaluation": {"timeout_s": timeout_s},
        "database": database,
    }
    return out, ignored


def load_shinka_spec(root: Path, config_name: str | None = None) -> ProblemToml:
    """Build the ProblemToml for a ShinkaEvolve folder: ``config_name`` (a run
    config of the folder) for the database settings, else run_evo.py's literal
    ``DatabaseConfig(...)``; run_evo.py's ``LocalJobConfig(time=...)`` for the
    time limit."""
    job, script_db = read_run_script(root)
    timeout_s = _seconds(job["time"], str(root / RUN_SCRIPT)) if job.get("time") else None
    source = root / (config_name or RUN_SCRIPT)
    db_config: Mapping[str, Any] = script_db
    ignored_sections: list[str] = []
    if config_name is not None:
        config = read_run_config(root, config_name)
        db_config = config.get("db_config") or {}
        ignored_sections = [str(s) for s in config if s not in _SECTIONS_READ]
    data, ignored = translate_shinka_config(
        db_config, root.resolve().name, timeout_s or DEFAULT_TIMEOUT_S
    )
    # once per process and config: a run loads the folder, then its own copy
    seen = (config_name or RUN_SCRIPT, repr(sorted(ignored + ignored_sections)))
    if seen not in _reported:
        _reported.add(seen)
        if ignored:
            log.info(
                "%s: ShinkaEvolve database keys with no equivalent here (evolve's own "
                "[database] defaults stand in): %s",
                source,
                ", ".join(ignored),
            )
        if ignored_sections:
            log.info(
                "%s: run settings evolve takes from its own command line or [llm] table: %s",
                source,
                ", ".join(ignored_sections),
            )
    return from_mapping(ProblemToml, data, source)


_reported: set[tuple[str, str]] = set()
