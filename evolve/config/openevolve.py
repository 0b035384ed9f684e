"""Read an OpenEvolve problem folder (initial_program.py + evaluator.py + config.yaml).

OpenEvolve's config.yaml mixes problem settings with its own runtime settings
(LLM endpoints, logging, checkpoint cadence). We translate the keys that mean
the same thing here, type-check them strictly, and list the rest as ignored so a
user can see exactly what did not carry over.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from evolve.config.problem_toml import ProblemToml
from evolve.config.strict import from_mapping
from evolve.errors import ConfigError

__all__ = ["describe_ignored", "load_openevolve_spec", "translate_openevolve_config"]

log = logging.getLogger(__name__)

# (section, key in OpenEvolve) -> (section, key here)
_KEY_MAP: dict[tuple[str, str], tuple[str, str]] = {
    ("prompt", "system_message"): ("prompt", "system"),
    ("evaluator", "timeout"): ("evaluation", "timeout_s"),
    ("evaluator", "cascade_evaluation"): ("evaluation", "cascade"),
    ("evaluator", "cascade_thresholds"): ("evaluation", "thresholds"),
    ("database", "num_islands"): ("database", "num_islands"),
    ("database", "migration_interval"): ("database", "migration_interval"),
    ("database", "migration_rate"): ("database", "migration_fraction"),
    ("database", "exploration_ratio"): ("database", "exploration_ratio"),
    ("database", "archive_size"): ("database", "archive_size"),
}
# Ignored keys that would change what the problem means under OpenEvolve, with
# why evolve cannot honour them (a warning, once, at load); every other ignored
# key is a run setting evolve takes from its own command line or [llm] table.
_MEANING: dict[str, str] = {
    "language": "evolve evolves Python programs only",
    "file_suffix": "evolve evolves Python programs only",
    "diff_based_evolution": "evolve's LLM edits mix diffs and rewrites by its [llm] edit_mix",
    "allow_full_rewrites": "evolve's LLM edits mix diffs and rewrites by its [llm] edit_mix",
    "max_code_length": "evolve bounds the prompt, not the program's length",
    "database.feature_bins": "evolve's cells have fixed bins per [database] dimension "
    "(OpenEvolve rescales them as it goes)",
    "database.similarity_threshold": "evolve rejects exact duplicates only",
    "evaluator.use_llm_feedback": "evolve has no LLM judge of programs",
    "evaluator.llm_feedback_weight": "evolve has no LLM judge of programs",
}
_MEANING_SECTIONS = {"novelty": "evolve rejects exact duplicates only"}
# Top-level values that change nothing here (OpenEvolve's defaults, and Python).
_USUAL: dict[str, Any] = {
    "diff_based_evolution": True,
    "allow_full_rewrites": False,
    "language": "python",
    "file_suffix": ".py",
}
# Where evolve takes the run settings OpenEvolve keeps in config.yaml.
_RUN_SETTINGS = {
    "max_iterations": "--iterations",
    "random_seed": "--seed",
    "llm": "--model / the [llm] table",
    "evaluator.parallel_evaluations": "--concurrency",
}
# OpenEvolve's own defaults (its openevolve/config.py) for the keys above that a
# config.yaml leaves out, so a folder behaves as it does under OpenEvolve.
# OpenEvolve sets no memory limit; evolve keeps one, higher than its own default
# for these folders: JAX's CPU backend (four of the examples) needs ~4 GB of
# address space (a crash at 1 GB).
_DEFAULTS: dict[str, dict[str, Any]] = {
    "evaluation": {"timeout_s": 300, "cascade": True, "thresholds": [0.5, 0.75, 0.9]},
    "resources": {"memory_mb": 4096},
    "database": {
        "num_islands": 5,
        "migration_interval": 50,
        "migration_fraction": 0.1,
        "exploration_ratio": 0.2,
    },
}
# What every OpenEvolve install has (its own dependencies), which its examples'
# seeds and evaluators import without naming them (tqdm, in four of them): the
# folder's scorer packages, beside its requirements.txt. openai, flask and dacite,
# its LLM and web stack, are left out.
ENVIRONMENT_PACKAGES = ("numpy", "PyYAML", "tqdm")
# OpenEvolve's built-in features, as ours: "complexity" is its code length;
# "diversity" (edit distance to a reference set) and "score" have no cell meaning here.
_OPENEVOLVE_FEATURES = {"complexity": "code_length", "diversity": None, "score": None}


def translate_openevolve_config(
    config: Mapping[str, Any], name: str
) -> tuple[dict[str, Any], list[str]]:
    """Map an OpenEvolve config dict to a problem.toml-shaped dict, with
    OpenEvolve's defaults for the mapped keys it leaves out.

    Returns the translated dict and the dotted names of keys that were ignored.
    """
    out: dict[str, Any] = {
        "name": name,
        "objective": {"metric": "combined_score", "direction": "maximize", "fallback": "mean"},
        **{section: dict(values) for section, values in _DEFAULTS.items()},
        "sandbox": {"requirements": list(ENVIRONMENT_PACKAGES)},
    }
    ignored: list[str] = []
    for section, value in config.items():
        if not isinstance(value, Mapping):
            if _USUAL.get(str(section), object()) != value:
                ignored.append(str(section))
            continue
        for key, item in value.items():
            target = _KEY_MAP.get((str(section), str(key)))
            if target is not None:
                out.setdefault(target[0], {})[target[1]] = item
            elif section == "database" and key == "feature_dimensions":
                names = [_OPENEVOLVE_FEATURES.get(d, d) for d in item or []]
                out.setdefault("database", {})["feature_dimensions"] = [
                    {"name": n} for n in names if n is not None
                ]
                ignored += [
                    f"database.feature_dimensions.{d}"
                    for d in item or []
                    if _OPENEVOLVE_FEATURES.get(d, d) is None
                ]
            else:
                ignored.append(f"{section}.{key}")
    return out, ignored


def load_openevolve_spec(root: Path, config_name: str = "config.yaml") -> ProblemToml:
    """Build the ProblemToml for an OpenEvolve folder (its config file optional:
    config.yaml unless ``config_name`` names another of its files)."""
    config_path = root / config_name
    config: Mapping[str, Any] = {}
    if config_path.is_file():
        try:
            loaded = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{config_path}: not valid YAML: {exc}") from exc
        if loaded is not None and not isinstance(loaded, Mapping):
            raise ConfigError(f"{config_path}: the top level must be a mapping of sections")
        config = loaded or {}
    data, ignored = translate_openevolve_config(config, root.resolve().name)
    meaning, settings = describe_ignored(ignored)
    # once per process and config (a run loads the folder, then its own copy)
    seen = (config_name, repr(sorted(ignored)))
    if seen in _reported:
        meaning, settings = [], []
    _reported.add(seen)
    if meaning:
        log.warning(
            "%s: keys that change the problem under OpenEvolve, not honoured here: %s",
            config_path,
            "; ".join(meaning),
        )
    if settings:
        log.info("%s: run settings evolve takes elsewhere: %s", config_path, "; ".join(settings))
    return from_mapping(ProblemToml, data, config_path)


_reported: set[tuple[str, str]] = set()


def describe_ignored(ignored: list[str]) -> tuple[list[str], list[str]]:
    """The ignored keys as (what changes the problem, with why; run settings,
    with where evolve takes them from)."""
    meaning: list[str] = []
    settings: dict[str, list[str]] = {}
    for key in ignored:
        section = key.split(".", 1)[0]
        if key in _MEANING or section in _MEANING_SECTIONS:
            meaning.append(f"{key} ({_MEANING.get(key) or _MEANING_SECTIONS[section]})")
        elif key.startswith("database.feature_dimensions."):
            name = key.rsplit(".", 1)[1]
            meaning.append(f"feature dimension {name!r} (no cell meaning here: dropped)")
        else:
            where = _RUN_SETTINGS.get(key) or _RUN_SETTINGS.get(section)
            if where is None:
                where = (
                    "evolve's own [database] selection and sizes"
                    if section == "database"
                    else "OpenEvolve's runtime only"
                )
            settings.setdefault(where, []).append(key)
    lines = [f"{', '.join(keys)} ({where})" for where, keys in settings.items()]
    return meaning, lines
