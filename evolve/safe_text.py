"""Text that candidates and models wrote, made safe to show: it can neither drive a terminal nor flood a log.

A candidate controls its stdout, stderr, error messages, metric names and artifacts; a model controls its reply.
Printed raw, an escape sequence in any of them can retitle the terminal, erase a line, recolour text or write
"all candidates passed" over a failure, and a bidirectional-override character can make code read differently
from what it is. Every such text goes through `shown()` before it reaches a terminal, a log or a report: control
characters become visible escapes and the length is bounded. HTML output escapes markup on top of this.
"""

from __future__ import annotations

import re
import reprlib

# C0 controls except tab and newline, DEL, C1 controls; zero-width and bidirectional formatting characters.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_ONE_LINE = re.compile("[\n\t]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(text: object, limit: int = 4000, *, one_line: bool = False) -> str:
    """`text` with every control character written as a visible escape (ESC -> `\\x1b`), cut to `limit`
    characters (saying how many were left out); `one_line` also writes newlines and tabs as escapes."""
    value = str(text)
    cut = len(value) - limit
    if cut > 0:
        value = value[:limit]
    value = _CONTROL.sub(_escape, value)
    if one_line:
        value = _ONE_LINE.sub(lambda m: "\\n" if m.group() == "\n" else "\\t", value)
    return value + (f" ... [{cut} more characters]" if cut > 0 else "")


_BOUNDED = reprlib.Repr()
_BOUNDED.maxlevel, _BOUNDED.maxlist, _BOUNDED.maxstring, _BOUNDED.maxother = 2, 4, 120, 120


def short_repr(value: object) -> str:
    """A repr of a value from a user's file, bounded in depth and length: a YAML alias bomb or a 10 MB string in
    an error message must not eat the memory or the terminal."""
    return shown(_BOUNDED.repr(value), 300)


def spreadsheet_safe(value: object) -> object:
    """`value` for a CSV cell: text that a spreadsheet would run as a formula (=, +, -, @, tab, CR first) is quoted
    with a leading apostrophe; other values pass unchanged."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


def valid_utf8(text: str) -> str:
    """`text` with each lone surrogate made '?'. A candidate can put one in an error message and a model in a
    reply (a JSON escape such as \\udcff decodes to one); such a string cannot be encoded, so one left in made
    the next prompt, the sandbox's source file or the store's write fail, and with it the whole run."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text
