"""Log records shown through `shown()`: a warning can quote a provider's error or a candidate's output, which are
the model's and the candidate's text, and a log line on a terminal must not carry their escape sequences."""

from __future__ import annotations

import logging
from typing import TextIO

from evolve.safe_text import shown


class SafeFormatter(logging.Formatter):
    """A formatter whose output has every control character but newline and tab as a visible escape."""

    def format(self, record: logging.LogRecord) -> str:
        return shown(super().format(record), limit=8000)


def install(stream: TextIO | None = None, level: int = logging.WARNING) -> logging.Handler:
    """Route Evolve's log records (the `evolve` logger and its children) through a SafeFormatter to `stream`
    (stderr by default); returns the handler. Idempotent: a second call replaces the first handler."""
    logger = logging.getLogger("evolve")
    for old in [h for h in logger.handlers if isinstance(h.formatter, SafeFormatter)]:
        logger.removeHandler(old)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False  # the root logger's handlers, if any, would print the raw text again
    return handler
