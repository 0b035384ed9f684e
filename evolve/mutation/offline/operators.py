"""Program transformations for the offline mutator.

Each operator takes the current code, a ``random.Random`` and donor lines (from
inspiration programs) and returns ``(new_code, description)``, or None when it
finds nothing to act on. Operators only touch lines inside EVOLVE-BLOCK bodies
and work on tokens and AST nodes, never on text inside strings or comments.
They do not check that the result parses; the mutator does, once per change.
"""

from __future__ import annotations

import ast
import io
import keyword
import math
import random
import tokenize
from collections.abc import Callable, Sequence

from evolve.edits import MarkerError, evolve_regions, is_marker_line, split_lines

__all__ = ["OPERATORS", "Operator", "donor_lines", "parses"]

Operator = Callable[[str, random.Random, Sequence[str]], "tuple[str, str] | None"]

_ARITH = ("+", "-", "*", "/")
_AUG = ("+=", "-=", "*=", "/=")
_COMPARE = ("<", "<=", ">", ">=")
_COMPOUND = (
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.With,
    ast.AsyncWith,
    ast.Try,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Match,
)
# Duplicating these only adds dead or redundant code.
_NOT_DUPLICATED = (ast.Return, ast.Pass, ast.Break, ast.Continue, ast.Raise, ast.Import)


def parses(code: str) -> bool:
    """True if ``code`` is syntactically valid Python."""
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def _body_lines(code: str) -> set[int]:
    """1-based numbers of the lines inside EVOLVE-BLOCK bodies."""
    return {n for r in evolve_regions(code) for n in range(r.first_body_line, r.last_body_line + 1)}


def _tokens(code: str) -> list[tokenize.TokenInfo]:
    try:
        return list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return []


def _operand_end(tok: tokenize.TokenInfo) -> bool:
    """True if ``tok`` can end an operand, so a following + - * / is binary."""
    name = tokenize.tok_name[tok.type]
    if name == "NAME":
        return not keyword.iskeyword(tok.string) or tok.string in ("True", "False", "None")
    return name in ("NUMBER", "STRING", "FSTRING_END") or tok.string in (")", "]", "}")


def _significant(tokens: list[tokenize.TokenInfo]) -> list[tokenize.TokenInfo]:
    skip = {tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT}
    return [t for t in tokens if t.type not in skip]


def _replace_span(code: str, row: int, c0: int, c1: int, text: str) -> str:
    lines = split_lines(code)
    line = lines[row - 1]
    lines[row - 1] = line[:c0] + text + line[c1:]
    return "".join(lines)


# -- numeric constants ---------------------------------------------------------


def _sig_digits(literal: str) -> int:
    mantissa = literal.lower().split("e")[0].replace("_", "").replace(".", "").lstrip("0")
    return max(1, len(mantissa.rstrip("0")) if "." not in literal else len(mantissa))


def _format_float(value: float, original: str) -> str:
    # Four significant digits resolve a moderate step; more only if the author wrote more.
    digits = min(max(4, _sig_digits(original)), 6)
    if "e" in original.lower():
        mantissa, exp = f"{abs(value):.{digits - 1}e}".split("e")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        text = f"{mantissa}e{int(exp)}"
    else:
        text = f"{abs(value):.{digits}g}"
        if not any(c in text for c in ".e"):
            text += ".0"
    return "-" + text if value < 0 else text


def _new_int(value: int, rng: random.Random) -> int:
    r = rng.random()
    if r < 0.1:  # a rare large jump escapes a local optimum
        new = round(value * math.exp(rng.gauss(0.0, 1.0))) if value else rng.randint(-10, 10)
    elif abs(value) >= 5 and r < 0.6:
        new = round(value * math.exp(rng.gauss(0.0, 0.25)))
    else:
        new = value + rng.choice((-2, -1, -1, 1, 1, 2))
    if new == value:
        new = value + rng.choice((-1, 1))
    return new


def _new_float(value: float, rng: random.Random) -> float:
    r = rng.random()
    if value == 0.0:
        return rng.gauss(0.0, 0.1)
    if r < 0.1:
        return value * math.exp(rng.gauss(0.0, 1.0))
    if r < 0.8:
        return value * math.exp(rng.gauss(0.0, 0.2))
    return value + rng.gauss(0.0, 0.1 * abs(value))


def _number_literal(text: str) -> int | float | None:
    lowered = text.lower()
    if lowered.endswith("j") or lowered.startswith(("0x", "0o", "0b")):
        return None
    if any(c in lowered for c in ".e"):
        return float(text)
    return int(text.replace("_", ""))


def perturb_number(code: str, rng: random.Random, donors: Sequence[str]) -> tuple[str, str] | None:
    """Scale or shift one numeric literal; ints stay ints, a unary minus is honoured."""
    body = _body_lines(code)
    toks = _significant(_tokens(code))
    spots = [
        i
        for i, t in enumerate(toks)
        if t.type == tokenize.NUMBER
        and t.start[0] in body
        and _number_literal(t.string) is not None
    ]
    if not spots:
        return None
    i = rng.choice(spots)
    tok = toks[i]
    value = _number_literal(tok.string)
    assert value is not None
    c0 = tok.start[1]
    prev = toks[i - 1] if i else None
    if (
        prev is not None
        and prev.string == "-"
        and prev.start[0] == tok.start[0]
        and not (i >= 2 and _operand_end(toks[i - 2]))
    ):
        value, c0 = -value, prev.start[1]
    for _ in range(8):
        if isinstance(value, int):
            new_value: int | float = _new_int(value, rng)
        else:
            new_value = _new_float(value, rng)
        if rng.random() < 0.03 and new_value:
            new_value = -new_value
        if new_value == value:
            continue
        if isinstance(new_value, int):
            text = str(new_value)
        else:
            text = _format_float(new_value, tok.string)
            if not math.isfinite(float(text)) or float(text) == value:
                continue
        old = code.split("\n")[tok.start[0] - 1][c0 : tok.end[1]]
        new_code = _replace_span(code, tok.start[0], c0, tok.end[1], text)
        return new_code, f"constant {old} -> {text} (line {tok.start[0]})"
    return None


# -- operators and booleans ----------------------------------------------------


def _swap_op(
    code: str, rng: random.Random, families: Sequence[Sequence[str]], label: str
) -> tuple[str, str] | None:
    body = _body_lines(code)
    toks = _significant(_tokens(code))
    spots = []
    for i, t in enumerate(toks):
        if t.type != tokenize.OP or t.start[0] not in body:
            continue
        family = next((f for f in families if t.string in f), None)
        # + - * / are swapped only as binary operators: never `-x`, `*args`, `def f(a, /)`.
        if family is None or (family is _ARITH and not (i and _operand_end(toks[i - 1]))):
            continue
        spots.append((t, family))
    if not spots:
        return None
    tok, family = rng.choice(spots)
    new = rng.choice([op for op in family if op != tok.string])
    new_code = _replace_span(code, tok.start[0], tok.start[1], tok.end[1], new)
    return new_code, f"{label} {tok.string} -> {new} (line {tok.start[0]})"


def swap_arithmetic(code: str, rng: random.Random, donors: Sequence[str]) -> tuple[str, str] | None:
    """Swap one binary + - * / (or augmented assignment) for another."""
    return _swap_op(code, rng, (_ARITH, _AUG), "operator")


def swap_comparison(code: str, rng: random.Random, donors: Sequence[str]) -> tuple[str, str] | None:
    """Swap one of < <= > >= for another."""
    return _swap_op(code, rng, (_COMPARE,), "comparison")


def flip_boolean(code: str, rng: random.Random, donors: Sequence[str]) -> tuple[str, str] | None:
    """Turn one True into False or back."""
    body = _body_lines(code)
    spots = [
        t
        for t in _tokens(code)
        if t.type == tokenize.NAME and t.string in ("True", "False") and t.start[0] in body
    ]
    if not spots:
        return None
    tok = rng.choice(spots)
    new = "False" if tok.string == "True" else "True"
    new_code = _replace_span(code, tok.start[0], tok.start[1], tok.end[1], new)
    return new_code, f"boolean {tok.string} -> {new} (line {tok.start[0]})"


# -- statement lines -----------------------------------------------------------


def _statement_lines(code: str) -> list[tuple[int, ast.stmt]]:
    """(1-based line, node) for simple statements alone on one body line."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    body = _body_lines(code)
    lines = code.split("\n")
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt) or isinstance(node, _COMPOUND):
            continue
        if node.lineno != node.end_lineno or node.lineno not in body:
            continue
        line = lines[node.lineno - 1].encode("utf-8")  # AST columns count UTF-8 bytes
        rest = line[node.end_col_offset :].decode("utf-8", "replace").strip()
        if line[: node.col_offset].strip() or (rest and not rest.startswith("#")):
            continue  # shares its line with another statement
        out.append((node.lineno, node))
    return sorted(out, key=lambda item: item[0])


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def drop_statement(code: str, rng: random.Random, donors: Sequence[str]) -> tuple[str, str] | None:
    """Delete one statement line (``pass`` stands in if its block would be empty)."""
    spots = [(n, s) for n, s in _statement_lines(code) if not isinstance(s, ast.Pass)]
    if not spots:
        return None
    number, _ = rng.choice(spots)
    lines = split_lines(code)
    old = lines[number - 1]
    del lines[number - 1]
    new_code = "".join(lines)
    if not parses(new_code):
        lines.insert(number - 1, _indent_of(old) + "pass\n")
        new_code = "".join(lines)
    return new_code, f"dropped line {number}: {old.strip()}"


def duplicate_statement(
    code: str, rng: random.Random, donors: Sequence[str]
) -> tuple[str, str] | None:
    """Repeat one statement line right after itself (e.g. apply an update twice)."""
    spots = [n for n, s in _statement_lines(code) if not isinstance(s, _NOT_DUPLICATED)]
    if not spots:
        return None
    number = rng.choice(spots)
    lines = split_lines(code)
    line = lines[number - 1]
    lines.insert(number, line if line.endswith("\n") else line + "\n")
    return "".join(lines), f"duplicated line {number}: {line.strip()}"


def donor_lines(programs: Sequence[str]) -> list[str]:
    """Stripped single-line statements from the EVOLVE-BLOCKs of ``programs``
    (the whole program when it has no well-formed block)."""
    out: list[str] = []
    for program in programs:
        try:
            regions = evolve_regions(program)
        except MarkerError:
            regions = []
        lines = program.split("\n")
        wanted = {n for r in regions for n in range(r.first_body_line, r.last_body_line + 1)}
        try:
            tree = ast.parse(program)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.stmt) and not isinstance(node, _COMPOUND):
                if node.lineno != node.end_lineno or (wanted and node.lineno not in wanted):
                    continue
                text = lines[node.lineno - 1].strip()
                if text and not is_marker_line(text) and parses(text) and text not in out:
                    out.append(text)
    return out


def _target(stmt: str) -> str | None:
    """The assigned target of a one-line assignment, as source text."""
    try:
        node = ast.parse(stmt).body[0]
    except (SyntaxError, ValueError, IndexError):
        return None
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        return ast.unparse(node.targets[0])
    if isinstance(node, ast.AugAssign | ast.AnnAssign):
        return ast.unparse(node.target)
    return None


def splice_inspiration(
    code: str, rng: random.Random, donors: Sequence[str]
) -> tuple[str, str] | None:
    """Bring in one line from an inspiration: it replaces the parent's assignment
    to the same target if there is one (a one-line crossover), else it is
    inserted after a statement."""
    spots = _statement_lines(code)
    lines = split_lines(code)
    present = {line.strip() for line in lines}
    fresh = [d for d in donors if d not in present]
    if not spots or not fresh:
        return None
    donor = rng.choice(fresh)
    target = _target(donor)
    same = [n for n, _ in spots if target is not None and _target(lines[n - 1].strip()) == target]
    if same:
        number = rng.choice(same)
        lines[number - 1] = _indent_of(lines[number - 1]) + donor + "\n"
        return "".join(lines), f"line {number} from an inspiration: {donor}"
    number = rng.choice([n for n, _ in spots])
    lines.insert(number, _indent_of(lines[number - 1]) + donor + "\n")
    return "".join(lines), f"inserted after line {number} from an inspiration: {donor}"


OPERATORS: dict[str, Operator] = {
    "perturb_number": perturb_number,
    "swap_arithmetic": swap_arithmetic,
    "swap_comparison": swap_comparison,
    "flip_boolean": flip_boolean,
    "drop_statement": drop_statement,
    "duplicate_statement": duplicate_statement,
    "splice_inspiration": splice_inspiration,
}
