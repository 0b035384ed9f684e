"""Feature values of a program: scorer metrics and built-in code features.

Pure functions of the code or of the metrics, computed once when a program is
added, so the database never needs the code again. A value that is missing,
not a number, or not finite comes back as NaN; binning puts NaN in a dedicated
"unknown" cell rather than guessing.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Iterable, Mapping

__all__ = ["BUILTIN_FEATURES", "ast_depth", "ast_nodes", "code_length", "feature_values"]


def code_length(code: str) -> float:
    """Characters of code: a cheap proxy for program size."""
    return float(len(code))


def ast_nodes(code: str) -> float:
    """Number of syntax-tree nodes (NaN if the code does not parse): size without layout."""
    tree = _parse(code)
    return math.nan if tree is None else float(sum(1 for _ in ast.walk(tree)))


def ast_depth(code: str) -> float:
    """Deepest nesting of the syntax tree (NaN if the code does not parse): structure."""
    tree = _parse(code)
    return math.nan if tree is None else float(_depth(tree))


BUILTIN_FEATURES: dict[str, Callable[[str], float]] = {
    "code_length": code_length,
    "ast_nodes": ast_nodes,
    "ast_depth": ast_depth,
}


def feature_values(code: str, metrics: Mapping[str, object], names: Iterable[str]) -> list[float]:
    """The value of each named feature: a built-in if the name is one, else the metric.

    A name that is both a built-in and a metric reads the built-in, so a scorer
    cannot move a program into another cell by returning a metric named
    ``code_length``. The code is parsed at most once.
    """
    parsed = False
    tree: ast.AST | None = None
    out = []
    for name in names:
        if name == "code_length":
            out.append(code_length(code))
        elif name in ("ast_nodes", "ast_depth"):
            if not parsed:
                tree, parsed = _parse(code), True
            if tree is None:
                out.append(math.nan)
            elif name == "ast_nodes":
                out.append(float(sum(1 for _ in ast.walk(tree))))
            else:
                out.append(float(_depth(tree)))
        else:
            out.append(_as_feature(metrics.get(name)))
    return out


def _as_feature(value: object) -> float:
    """A metric as a finite float, or NaN ("unknown") when it is anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    number = float(value)
    return number if math.isfinite(number) else math.nan


def _parse(code: str) -> ast.AST | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _depth(tree: ast.AST) -> int:
    """Depth by an explicit stack, so deeply nested code cannot hit the recursion limit."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest
