"""The report page: one self-contained HTML file (figures as data: URIs, styles inline, no script, no request).

Jinja2 with autoescape on, from a template shipped inside the package. Every text a user, a candidate or a model
wrote (task names, settings, objectives, failure reasons) passes the `shown` filter (control characters as
visible escapes, bounded) and is then HTML-escaped by autoescape, so it reads as text and never runs.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from evolve import __version__
from evolve.safe_text import shown


def _number(value: float | int | None, digits: int = 6) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}g}"


def _percent(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.0%}"


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("evolve.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["shown"] = lambda text, limit=200: shown(text, limit, one_line=True)
    env.filters["num"] = _number
    env.filters["pct"] = _percent
    env.filters["json_text"] = lambda value: json.dumps(value, sort_keys=True, default=str)
    return env


def render_page(**context: Any) -> str:
    """The page for a report's context (see evolve/report/build.py for the keys)."""
    return _environment().get_template("report.html.j2").render(
        version=__version__, generated=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), **context)
