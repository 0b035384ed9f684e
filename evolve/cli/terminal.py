"""Text from candidates, scorers and run directories, made safe for a terminal.

A candidate's output, a scorer's reason or artifact, a model name in a run
directory: none of it is ours, and a terminal obeys control characters in
whatever it prints. ``"\\x1b[2K\\rstatus: ok  score: 999"`` erases the line
it lands on and draws a fake result; other sequences set the window title,
move the cursor, or (on some terminals) answer back into the input. So every
command prints such text through ``printable``, which renders each control
character (Unicode category Cc: C0, DEL and the C1 range ``\\x80-\\x9f``) as a
visible escape such as ``\\x1b``. Newlines and tabs stay, where the text is
meant to span lines (an artifact, a traceback); ``one_line=True`` escapes them
too, for fields that must stay on their line (an id, a name, a status line).
Lone surrogates (which JSON can carry) are escaped as well: printing one would
raise ``UnicodeEncodeError`` instead of showing the result.

JSON output (``--json``) needs none of this: JSON escapes control characters.
"""

from __future__ import annotations

import logging
import re

__all__ = ["PrintableFormatter", "printable"]

_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROLS_AND_BREAKS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, one_line: bool = False) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``,
    ``\\r``); newlines and tabs kept unless ``one_line``. Text without control
    characters comes back unchanged."""
    return (_CONTROLS_AND_BREAKS if one_line else _CONTROLS).sub(_escape, text)


class PrintableFormatter(logging.Formatter):
    """Log lines through ``printable``: a log message may quote a model's reply, a
    scorer's reason or a path from a run directory."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))
