"""Log records shown through `shown()`: a warning can quote a provider's error or a candidate's output, which are
the model's and the candidate's text, and a log line on a terminal must not carry their escape sequences."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from evolve.safe_text import shown


class SafeFormatter(logging.Formatter):
    """A formatter whose output has every control character but newline and tab as a visible escape."""

    def format(self, record: logging.LogRecord) -> str:
        return shown(super().format(record), limit=8000)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record comes, not the one of the moment it was made: a CLI
    invoked inside another program (a test runner, an embedding) may have had its stderr swapped and closed."""

    @property
    def stream(self) -> TextIO:  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def install(stream: TextIO | None = None, level: int = logging.WARNING) -> logging.Handler:
    """Route Evolve's log records (the `evolve` logger and its children) through a SafeFormatter to `stream`
    (the current stderr by default); returns the handler. Idempotent: a second call replaces the first handler.

    Records still propagate: a command-line process has no root handlers (so nothing prints them raw a second
    time), and a program that embeds Evolve keeps its own logging."""
    logger = logging.getLogger("evolve")
    for old in [h for h in logger.handlers if isinstance(h.formatter, SafeFormatter)]:
        logger.removeHandler(old)
    handler = _StderrHandler() if stream is None else logging.StreamHandler(stream)
    handler.setFormatter(SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler
