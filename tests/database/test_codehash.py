"""normalized_code_hash: comments and layout never matter, every token does."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import assume, given
from hypothesis import strategies as st

from evolve.database import normalized_code_hash

NAMES = ["a", "b", "foo", "bar_2", "x"]
OPS = ["+", "-", "*", "//", "%", "<", "=="]


@dataclass(frozen=True)
class Assign:
    target: str
    expr: tuple[str, ...]  # operand, op, operand, ... (already rendered tokens)


@dataclass(frozen=True)
class If:
    test: str
    body: tuple[Assign | If, ...]


operands = st.one_of(
    st.sampled_from(NAMES),
    st.integers(0, 10**6).map(str),
    st.text(st.sampled_from("ab #'\"\\ \t"), max_size=6).map(repr),
)


@st.composite
def expressions(draw: st.DrawFn) -> tuple[str, ...]:
    parts = [draw(operands)]
    for _ in range(draw(st.integers(0, 3))):
        parts += [draw(st.sampled_from(OPS)), draw(operands)]
    return tuple(parts)


statements = st.recursive(
    st.builds(Assign, st.sampled_from(NAMES), expressions()),
    lambda inner: st.builds(
        If, st.sampled_from(NAMES), st.lists(inner, min_size=1, max_size=3).map(tuple)
    ),
    max_leaves=8,
)
programs = st.lists(statements, min_size=1, max_size=5).map(tuple)


@st.composite
def layouts(draw: st.DrawFn) -> dict:
    """Whitespace and comment choices that must not change the hash."""
    return {
        "indent": draw(st.sampled_from(["    ", "  ", " ", "\t", "        "])),
        "spaces": draw(st.lists(st.sampled_from(["", " ", "  "]), min_size=1, max_size=5)),
        "comments": draw(st.lists(st.booleans(), min_size=1, max_size=5)),
        "blank": draw(
            st.lists(st.sampled_from(["", "   ", "# note", "    # deep note"]), max_size=3)
        ),
        "newline": draw(st.sampled_from(["\n", "\r\n"])),
    }


def render(program: tuple, layout: dict) -> str:
    lines: list[str] = []
    counter = [0]

    def pick(options: list) -> object:
        counter[0] += 1
        return options[counter[0] % len(options)]

    def emit(stmt: Assign | If, depth: int) -> None:
        for blank in layout["blank"][: counter[0] % 3]:
            lines.append(blank)
        pad = layout["indent"] * depth
        comment = "  # why: tuned" if pick(layout["comments"]) else ""
        if isinstance(stmt, Assign):
            sp = pick(layout["spaces"])
            lines.append(f"{pad}{stmt.target}{sp}={sp}{f'{sp}'.join(stmt.expr)}{comment}")
        else:
            lines.append(f"{pad}if {stmt.test}:{comment}")
            for inner in stmt.body:
                emit(inner, depth + 1)

    for stmt in program:
        emit(stmt, 0)
    trailing = pick(layout["spaces"])
    return layout["newline"].join(line + trailing for line in lines) + layout["newline"]


@given(program=programs, first=layouts(), second=layouts())
def test_comment_and_whitespace_changes_keep_the_hash(program: tuple, first: dict, second: dict):
    assert normalized_code_hash(render(program, first)) == normalized_code_hash(
        render(program, second)
    )


def _leaves(program: tuple) -> list[tuple]:
    """Paths to every token of the program: (stmt path..., kind, position)."""
    out: list[tuple] = []

    def walk(stmt: Assign | If, path: tuple) -> None:
        if isinstance(stmt, Assign):
            out.append((*path, "target", 0))
            out.extend((*path, "expr", i) for i in range(len(stmt.expr)))
        else:
            out.append((*path, "test", 0))
            for i, inner in enumerate(stmt.body):
                walk(inner, (*path, i))

    for i, stmt in enumerate(program):
        walk(stmt, (i,))
    return out


def _replace(program: tuple, leaf: tuple, new: str) -> tuple:
    def rebuild(stmt: Assign | If, rest: tuple) -> Assign | If:
        if len(rest) == 2:
            kind, pos = rest
            if kind == "target":
                return Assign(new, stmt.expr)  # type: ignore[union-attr]
            if kind == "test":
                return If(new, stmt.body)  # type: ignore[union-attr]
            expr = list(stmt.expr)  # type: ignore[union-attr]
            expr[pos] = new
            return Assign(stmt.target, tuple(expr))  # type: ignore[union-attr]
        body = list(stmt.body)  # type: ignore[union-attr]
        body[rest[0]] = rebuild(body[rest[0]], rest[1:])
        return If(stmt.test, tuple(body))  # type: ignore[union-attr]

    items = list(program)
    items[leaf[0]] = rebuild(items[leaf[0]], leaf[1:])
    return tuple(items)


def _token_at(program: tuple, leaf: tuple) -> str:
    stmt = program[leaf[0]]
    for step in leaf[1:-2]:
        stmt = stmt.body[step]
    kind, pos = leaf[-2:]
    return {"target": lambda: stmt.target, "test": lambda: stmt.test}.get(
        kind, lambda: stmt.expr[pos]
    )()


@given(program=programs, layout=layouts(), other=layouts(), data=st.data())
def test_any_token_change_changes_the_hash(program: tuple, layout: dict, other: dict, data):
    leaf = data.draw(st.sampled_from(_leaves(program)))
    old = _token_at(program, leaf)
    is_op = leaf[-2] == "expr" and leaf[-1] % 2 == 1
    pool = OPS if is_op else NAMES if leaf[-2] != "expr" else None
    replacement = data.draw(
        st.sampled_from(pool) if pool is not None else operands, label="replacement"
    ).strip()
    assume(replacement != old)
    changed = _replace(program, leaf, replacement)
    assert normalized_code_hash(render(program, layout)) != normalized_code_hash(
        render(changed, other)
    )


def test_strings_are_compared_byte_for_byte() -> None:
    assert normalized_code_hash('x = "a  # b"\n') != normalized_code_hash('x = "a # b"\n')
    assert normalized_code_hash("x = 'a'\n") != normalized_code_hash('x = "a"\n')


def test_block_structure_matters_even_when_tokens_match() -> None:
    nested = "if a:\n    b = 1\n    c = 2\n"
    dedented = "if a:\n    b = 1\nc = 2\n"
    assert normalized_code_hash(nested) != normalized_code_hash(dedented)


def test_line_continuations_and_brackets_are_layout() -> None:
    flat = "x = f(1, 2)\n"
    assert normalized_code_hash("x = f(1,\n      2)\n") == normalized_code_hash(flat)
    assert normalized_code_hash("x = \\\n    f(1, 2)\n") == normalized_code_hash(flat)


def test_code_that_cannot_be_tokenized_is_hashed_exactly() -> None:
    broken = "x = (1,\n"
    assert normalized_code_hash(broken) == normalized_code_hash(broken)
    assert normalized_code_hash(broken) != normalized_code_hash("x = (1,  \n")
    assert len(normalized_code_hash(broken)) == 32
