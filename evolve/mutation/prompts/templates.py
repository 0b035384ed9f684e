"""Prompt templates: the defaults shipped with evolve, and per-problem overrides.

A problem overrides a template by shipping ``prompts/<name>.txt`` in its folder
(e.g. ``problems/my_problem/prompts/diff.txt``); the others keep their
defaults. Templates use ``string.Template`` syntax (``$name``; write ``$$`` for
a literal dollar sign) because programs are full of braces. Every template is
checked at load time, so a misspelt placeholder or file name is an error
before a run starts, not a broken prompt an hour in.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from evolve.errors import ConfigError

__all__ = ["OVERRIDE_DIR", "TEMPLATE_FIELDS", "Templates", "load_templates"]

OVERRIDE_DIR = "prompts"

# Per template: (placeholders it may use, placeholders it must use).
TEMPLATE_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "user": (
        frozenset({"objective", "second_parent", "inspirations", "instructions", "parent"}),
        frozenset({"instructions", "parent"}),
    ),
    "parent": (frozenset({"program_id", "summary", "artifacts", "code"}), frozenset({"code"})),
    "inspiration": (
        frozenset({"index", "program_id", "summary", "code"}),
        frozenset({"code"}),
    ),
    "second_parent": (frozenset({"program_id", "summary", "code"}), frozenset({"code"})),
    "diff": (frozenset(), frozenset()),
    "rewrite": (frozenset(), frozenset()),
    "crossover": (frozenset(), frozenset()),
}


@dataclass(frozen=True)
class Templates:
    """One ``string.Template`` per name in ``TEMPLATE_FIELDS``."""

    by_name: dict[str, Template]
    sources: dict[str, str]  # where each came from, for error messages

    def render(self, name: str, **values: object) -> str:
        return self.by_name[name].substitute({k: str(v) for k, v in values.items()})


def _check(name: str, text: str, source: str) -> Template:
    template = Template(text)
    if not template.is_valid():
        raise ConfigError(
            f"{source}: invalid placeholder syntax; placeholders are $name or ${{name}}, "
            "write $$ for a literal dollar sign"
        )
    allowed, required = TEMPLATE_FIELDS[name]
    used = set(template.get_identifiers())
    unknown = sorted(used - allowed)
    if unknown:
        known = ", ".join(f"${f}" for f in sorted(allowed)) or "none"
        raise ConfigError(
            f"{source}: unknown placeholder(s) {', '.join('$' + u for u in unknown)}; "
            f"this template may use: {known}"
        )
    missing = sorted(required - used)
    if missing:
        raise ConfigError(
            f"{source}: the template must contain {', '.join('$' + m for m in missing)}"
        )
    return template


def load_templates(problem_root: str | Path | None = None) -> Templates:
    """The default templates, with ``<problem_root>/prompts/<name>.txt`` overrides."""
    defaults = resources.files("evolve.mutation.prompts") / "templates"
    by_name: dict[str, Template] = {}
    sources: dict[str, str] = {}
    for name in TEMPLATE_FIELDS:
        resource = defaults / f"{name}.txt"
        sources[name] = f"evolve/prompts/templates/{name}.txt"
        by_name[name] = _check(name, resource.read_text(encoding="utf-8"), sources[name])
    if problem_root is None:
        return Templates(by_name, sources)
    folder = Path(problem_root) / OVERRIDE_DIR
    if not folder.is_dir():
        return Templates(by_name, sources)
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name.lower().startswith("readme") or path.is_dir():
            continue
        if path.suffix != ".txt" or path.stem not in TEMPLATE_FIELDS:
            known = ", ".join(f"{n}.txt" for n in TEMPLATE_FIELDS)
            raise ConfigError(
                f"{path}: not a prompt template name; templates in {folder} are: {known}"
            )
        sources[path.stem] = str(path)
        by_name[path.stem] = _check(path.stem, path.read_text(encoding="utf-8"), str(path))
    return Templates(by_name, sources)
