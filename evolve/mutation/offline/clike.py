"""Token-level transformations for C-like programs (C, C++, Rust, Go, Java, ...).

The Python operators work on Python tokens and ASTs; a C-like block (braces and
semicolons, ``// EVOLVE-BLOCK-START`` markers) gets these instead: tune a
numeric constant, swap an arithmetic, comparison or logical operator, drop or
repeat a simple statement. Text inside strings, character literals and
comments, and preprocessor lines (``#include``), is never touched. Without a
compiler the only check here is that brackets still balance; a child that
does not build fails its evaluation with the compiler's message, as a
model's bad edit would.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from evolve.edits import evolve_regions, split_lines
from evolve.mutation.offline.operators import Operator, _format_float, _new_float, _new_int

__all__ = ["CLIKE_OPERATORS", "CLIKE_WEIGHTS", "balanced", "looks_clike"]

_TOKEN = re.compile(
    r"""
    (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')
  | (?P<number>(?<![\w.])(?:\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?
        |\d+[eE][-+]?\d+|\d+)[fFlLuU]*(?![\w.]))
  | (?P<name>[A-Za-z_]\w*)
  | (?P<op><<=|>>=|<=|>=|==|!=|&&|\|\||\+\+|--|->|::|<<|>>|\+=|-=|\*=|/=
        |[-+*/%<>=!&|^~?:;,.(){}\[\]])
    """,
    re.S | re.X,
)
_PAIRS = {")": "(", "]": "[", "}": "{"}
# A statement starting with one of these declares: repeating it would not build.
_TYPES = frozenset(
    [
        "int",
        "long",
        "short",
        "double",
        "float",
        "char",
        "bool",
        "auto",
        "const",
        "unsigned",
        "signed",
        "size_t",
        "void",
        "static",
        "let",
        "mut",
        "var",
        "val",
        "std",
        "uint64_t",
        "int64_t",
        "uint32_t",
        "int32_t",
        "usize",
        "i64",
        "i32",
        "f64",
        "f32",
        "u64",
        "u32",
    ]
)
_ASSIGNMENT = re.compile(r"^\s*[A-Za-z_][\w.\[\]]*\s*(?:[-+*/%&|^]?=(?!=)|\+\+|--)")

CLIKE_WEIGHTS = {
    "perturb_number": 0.6,
    "swap_arithmetic": 0.1,
    "swap_comparison": 0.08,
    "swap_logic": 0.04,
    "drop_statement": 0.1,
    "duplicate_statement": 0.08,
}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    start: int  # offset in the code
    line: int  # 1-based


def _tokens(code: str) -> list[_Token]:
    out = []
    line_starts = [0]
    for k, char in enumerate(code):
        if char == "\n":
            line_starts.append(k + 1)
    line = 1
    for match in _TOKEN.finditer(code):
        kind = match.lastgroup or ""
        while line < len(line_starts) and line_starts[line] <= match.start():
            line += 1
        out.append(_Token(kind, match.group(), match.start(), line))
    return out


def balanced(code: str) -> bool:
    """Whether every (), [] and {} outside strings and comments closes in order."""
    stack: list[str] = []
    for token in _tokens(code):
        if token.kind != "op":
            continue
        if token.text in "([{":
            stack.append(token.text)
        elif token.text in _PAIRS and (not stack or stack.pop() != _PAIRS[token.text]):
            return False
    return not stack


def looks_clike(code: str) -> bool:
    """Whether ``code``'s EVOLVE-BLOCKs read as C-like: braces or semicolons in them."""
    try:
        regions = evolve_regions(code)
    except ValueError:
        return False
    body = "".join(region.body(code) for region in regions)
    return bool(regions) and (";" in body or "{" in body)


def _editable(code: str) -> list[_Token]:
    """Tokens inside EVOLVE-BLOCK bodies, off preprocessor lines."""
    lines = split_lines(code)
    body = {n for r in evolve_regions(code) for n in range(r.first_body_line, r.last_body_line + 1)}
    keep = {n for n in body if not lines[n - 1].lstrip().startswith("#")}
    return [t for t in _tokens(code) if t.line in keep and t.kind in ("number", "name", "op")]


def _replace(code: str, token: _Token, text: str) -> str:
    return code[: token.start] + text + code[token.start + len(token.text) :]


def _operand_end(token: _Token) -> bool:
    return token.kind in ("number", "name") or token.text in (")", "]")


def perturb_number(code: str, rng: random.Random, donors: Sequence[str]) -> tuple[str, str] | None:
    """Scale or shift one numeric literal (its suffix kept; a negative one in parentheses)."""
    numbers = [t for t in _editable(code) if t.kind == "number"]
    if not numbers:
        return None
    token = rng.choice(numbers)
    digits = token.text.rstrip("fFlLuU")
    suffix = token.text[len(digits) :]
    if any(c in digits.lower() for c in ".e"):
        text = _format_float(_new_float(float(digits), rng), digits)
    else:
        text = str(_new_int(int(digits), rng))
    if text.startswith("-"):
        text = f"({text}{suffix})"
    else:
        text += suffix
    return _replace(code, token, text), f"{token.text} -> {text} (line {token.line})"


def _swap(
    code: str, rng: random.Random, choices: tuple[str, ...], binary: bool
) -> tuple[str, str] | None:
    tokens = _editable(code)
    spots = [
        (k, t)
        for k, t in enumerate(tokens)
        if t.kind == "op"
        and t.text in choices
        and (not binary or (k > 0 and _operand_end(tokens[k - 1])))
        and not (k > 0 and tokens[k - 1].text in ("operator", "template", "include"))
    ]
    if not spots:
        return None
    _, token = rng.choice(spots)
    new = rng.choice([c for c in choices if c != token.text])
    return _replace(code, token, new), f"{token.text} -> {new} (line {token.line})"


def swap_arithmetic(code: str, rng: random.Random, donors: Sequence[str]) -> tuple[str, str] | None:
    return _swap(code, rng, ("+", "-", "*", "/"), binary=True)


def swap_comparison(code: str, rng: random.Random, donors: Sequence[str]) -> tuple[str, str] | None:
    """``<=``/``>=`` freely; ``<``/``>`` only on lines of ``if``/``while``/``for``
    (elsewhere they may be template brackets)."""
    lines = split_lines(code)
    flow = re.compile(r"\b(if|while|for)\b")
    tokens = [
        t
        for t in _editable(code)
        if t.text in ("<=", ">=") or (t.text in ("<", ">") and flow.search(lines[t.line - 1]))
    ]
    if not tokens:
        return None
    token = rng.choice(tokens)
    new = rng.choice([c for c in ("<", "<=", ">", ">=") if c != token.text])
    return _replace(code, token, new), f"{token.text} -> {new} (line {token.line})"


def swap_logic(code: str, rng: random.Random, donors: Sequence[str]) -> tuple[str, str] | None:
    return _swap(code, rng, ("&&", "||"), binary=False)


def _simple_statements(code: str) -> list[int]:
    """Body lines holding one simple statement: ends in ``;``, no braces, not a return."""
    lines = split_lines(code)
    body = {n for r in evolve_regions(code) for n in range(r.first_body_line, r.last_body_line + 1)}
    out = []
    for number in sorted(body):
        text = lines[number - 1].strip()
        if (
            text.endswith(";")
            and "{" not in text
            and "}" not in text
            and not text.startswith(("return", "#", "//", "for"))
        ):
            out.append(number)
    return out


def drop_statement(code: str, rng: random.Random, donors: Sequence[str]) -> tuple[str, str] | None:
    candidates = _simple_statements(code)
    if not candidates:
        return None
    number = rng.choice(candidates)
    lines = split_lines(code)
    dropped = lines.pop(number - 1)
    return "".join(lines), f"dropped line {number}: {dropped.strip()}"


def duplicate_statement(
    code: str, rng: random.Random, donors: Sequence[str]
) -> tuple[str, str] | None:
    """Repeat an assignment or update (never a declaration, which would not build)."""
    lines = split_lines(code)
    candidates = [
        n
        for n in _simple_statements(code)
        if _ASSIGNMENT.match(lines[n - 1]) and lines[n - 1].split()[0] not in _TYPES
    ]
    if not candidates:
        return None
    number = rng.choice(candidates)
    line = lines[number - 1]
    lines.insert(number, line if line.endswith("\n") else line + "\n")
    return "".join(lines), f"repeated line {number}: {line.strip()}"


CLIKE_OPERATORS: dict[str, Operator] = {
    "perturb_number": perturb_number,
    "swap_arithmetic": swap_arithmetic,
    "swap_comparison": swap_comparison,
    "swap_logic": swap_logic,
    "drop_statement": drop_statement,
    "duplicate_statement": duplicate_statement,
}
