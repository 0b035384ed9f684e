"""Normalised code hash: equal for programs that differ only in comments or layout.

An LLM often returns the parent with a reworded comment or re-indented block;
evaluating it again buys nothing. The hash is taken over Python's token stream
with comments, blank lines and indentation widths dropped, so comments and
whitespace never matter while every real token (strings included, byte for
byte) does.
"""

from __future__ import annotations

import functools
import hashlib
import io
import tokenize

__all__ = ["normalized_code_hash", "normalized_tokens"]

_DROPPED = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
# Block structure survives as markers; how wide an indent is does not.
_MARKERS = {tokenize.INDENT: "\x01>", tokenize.DEDENT: "\x01<", tokenize.NEWLINE: "\x01;"}


def normalized_tokens(code: str) -> list[str]:
    """The significant tokens of ``code``, each tagged with its type.

    Raises ``tokenize.TokenError``/``SyntaxError`` for code Python cannot tokenize.
    """
    out = []
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type in _DROPPED:
            continue
        out.append(_MARKERS.get(token.type) or f"{token.type}\x02{token.string}")
    return out


@functools.lru_cache(maxsize=4096)
def normalized_code_hash(code: str) -> str:
    """32 hex digits identifying ``code`` up to comments and whitespace.

    Cached (tokenizing costs about 0.5 ms per KB of code), so the controller's
    duplicate check, its in-flight set and ``PopulationDatabase.add`` can each
    ask for the same child's hash without tokenizing it again.

    Code that cannot be tokenized (unbalanced brackets, bad dedent) is hashed
    byte for byte instead, in a separate namespace, so it never equals a
    tokenized program's hash.
    """
    try:
        text = "tok\x00" + "\x00".join(normalized_tokens(code))
    except (tokenize.TokenError, SyntaxError):
        text = "raw\x00" + code
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
