"""The architecture, checked from the source (ast only, nothing is imported):
imports point one way, no cycles, every package says what it owns, no module
grows into a god module, no two classes share a name.

Every import counts, wherever it is written (module top, inside a function,
under ``TYPE_CHECKING``): a function-local import cannot hide a cycle here.
``from pkg import sub`` where ``sub`` is a module is an arrow to ``pkg.sub``
only (for a module inside ``pkg``, ``pkg/__init__.py`` has already run); any
other name imported from ``pkg`` is an arrow to ``pkg/__init__.py``.
"""

from __future__ import annotations

import ast
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pytest

REPO = Path(__file__).resolve().parent.parent
ROOTS = ("evolve", "sandboxes", "evaluators")
MAX_MODULE_LINES = 500

# What each part may import (beyond the standard library and third-party
# packages), as prefixes of module names. Listed once here so the layering is
# reviewable in one place; README's "Architecture" section draws the same.
ALLOWED: dict[str, tuple[str, ...]] = {
    "evaluators": ("evaluators",),  # stdlib only: it is copied into every sandbox
    "sandboxes": ("sandboxes", "evaluators"),  # jobs and results, never the engine
    "evolve.errors": (),
    "evolve.records": ("evaluators.contract",),
    "evolve.edits": ("evolve.edits",),  # pure text in, text out
    "evolve.database": ("evolve.database", "evolve.records"),
    "evolve.config": (
        "evolve.config",
        "evolve.errors",
        "evolve.edits",
        "evolve.database",
        "sandboxes",
    ),
    "evolve.mutation": (
        "evolve.mutation",
        "evolve.config",
        "evolve.edits",
        "evolve.records",
        "evolve.errors",
    ),
    "evolve.store": ("evolve.store", "evolve.records", "evolve.errors"),
    "evolve.novelty": (
        "evolve.novelty",
        "evolve.config",
        "evolve.database",
        "evolve.edits",
        "evolve.errors",
        "evolve.mutation",
        "evolve.records",
        "evolve.store",
    ),
    "evolve.judging": (
        "evolve.judging",
        "evolve.config",
        "evolve.errors",
        "evolve.mutation",
        "evolve.records",
        "sandboxes",
    ),
    "evolve.executors": ("evolve.executors", "sandboxes"),
    "evolve.engine": (
        "evolve.engine",
        "evolve.config",
        "evolve.database",
        "evolve.edits",
        "evolve.errors",
        "evolve.executors",
        "evolve.judging",
        "evolve.mutation",
        "evolve.novelty",
        "evolve.records",
        "evolve.store",
        "sandboxes",
    ),
    "evolve.analysis": ("evolve.analysis", "evolve.store", "evolve.records", "evolve.errors"),
    "evolve.bench": (
        "evolve.bench",
        "evolve.engine",
        "evolve.analysis",
        "evolve.config",
        "evolve.mutation",
        "evolve.errors",
        "sandboxes",
    ),
    "evolve.testing": (
        "evolve.testing",
        "evolve.edits",
        "evolve.judging",
        "evolve.mutation",
        "evolve.novelty",
    ),
    "evolve.cli": ("evolve", "sandboxes"),
    "evolve": ("evolve.analysis",),  # the package itself: evolve.Run, loaded on first use
}

# Arrows the issue tracker named as never acceptable (implied by ALLOWED; kept
# as their own test so a loosened table cannot let them back in unseen).
FORBIDDEN: list[tuple[str, str]] = [
    ("evaluators", "evolve"),
    ("evaluators", "sandboxes"),
    ("sandboxes", "evolve"),
    ("evolve.database", "evolve.store"),
    ("evolve.database", "evolve.mutation"),
    ("evolve.database", "sandboxes"),
    ("evolve.database", "evolve.executors"),
    ("evolve.analysis", "evolve.engine"),
    ("evolve.executors", "evolve.database"),
    ("evolve.executors", "evolve.store"),
]


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (resolved to a file of ours)
    line: int


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for root in ROOTS
        for path in sorted((REPO / root).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(modules: dict[str, Path]) -> list[Import]:
    found = []
    for source, path in modules.items():
        package = source if path.name == "__init__.py" else source.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    module = node.module or ""
                # `from pkg import sub` imports the submodule; any other name comes
                # from pkg/__init__.py.
                subs = [f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in modules]
                targets = subs if len(subs) == len(node.names) else [module, *subs]
            for target in targets:
                resolved = _resolve(target, modules)
                if resolved is not None and resolved != source:
                    found.append(Import(source, resolved, node.lineno))
    return found


MODULES = _modules()
IMPORTS = _imports(MODULES)


def _part(module: str) -> str:
    """The most specific key of ALLOWED that ``module`` belongs to."""
    matches = [key for key in ALLOWED if module == key or module.startswith(key + ".")]
    assert matches, f"{module}: belongs to no part of ALLOWED; add its package there"
    return max(matches, key=len)


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_the_walker_sees_the_whole_tree() -> None:
    # A regression guard for this test itself: if resolution broke, every
    # other check here would pass vacuously.
    assert len(MODULES) > 100
    assert len(IMPORTS) > 300
    sources = {i.source for i in IMPORTS}
    assert {"evolve.engine.controller", "sandboxes.process", "evaluators.harness"} <= sources


def test_there_are_no_import_cycles() -> None:
    graph = nx.DiGraph((i.source, i.target) for i in IMPORTS)
    cycles = sorted(nx.simple_cycles(graph), key=len)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join([*c, c[0]]) for c in cycles[:20])


def test_every_import_follows_the_layering() -> None:
    bad = [
        f"{MODULES[i.source].relative_to(REPO)}:{i.line}: {i.source} -> {i.target}"
        for i in IMPORTS
        if not any(_within(i.target, allowed) for allowed in (*ALLOWED[_part(i.source)],))
    ]
    assert not bad, "imports the layering does not allow (see ALLOWED):\n" + "\n".join(bad)


@pytest.mark.parametrize(("source", "target"), FORBIDDEN, ids=[f"{a}->{b}" for a, b in FORBIDDEN])
def test_a_forbidden_arrow_does_not_exist(source: str, target: str) -> None:
    arrows = [i for i in IMPORTS if _within(i.source, source) and _within(i.target, target)]
    assert not arrows, [f"{a.source}:{a.line} -> {a.target}" for a in arrows]


def test_every_package_opens_with_a_docstring_saying_what_it_owns() -> None:
    missing = [
        str(path.relative_to(REPO))
        for path in MODULES.values()
        if path.name == "__init__.py"
        and len(ast.get_docstring(ast.parse(path.read_text())) or "") < 40
    ]
    assert not missing, f"packages without a docstring saying what they own: {missing}"


def test_no_module_is_a_god_module() -> None:
    long = {
        str(path.relative_to(REPO)): n
        for path in MODULES.values()
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split along a seam): {long}"


def test_no_two_classes_share_a_name() -> None:
    names = Counter(
        node.name
        for path in MODULES.values()
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.ClassDef)
    )
    assert not [n for n, k in names.items() if k > 1]


def test_the_checks_catch_what_they_guard_against(tmp_path: Path) -> None:
    # The walker itself, on a tiny tree with a hidden cycle and a bad arrow.
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "__init__.py").write_text('"""A package."""\nfrom pkg import a\n')
    (root / "a.py").write_text("def f():\n    from pkg.b import g\n    return g\n")
    (root / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n"
    )
    modules = {_name_under(p, tmp_path): p for p in root.rglob("*.py")}
    edges = {(i.source, i.target) for i in _imports(modules)}
    assert ("pkg.a", "pkg.b") in edges  # a function-local import counts
    assert ("pkg.b", "pkg.a") in edges  # so does a TYPE_CHECKING one
    assert list(nx.simple_cycles(nx.DiGraph(edges)))


def _name_under(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)
