"""Column types that store hostile data losslessly on every backend.

Candidate code, its output and model replies may hold anything; PostgreSQL's `text` refuses the NUL character and
its `json` refuses NaN and Infinity, which SQLite takes as they are. Rather than fail a child (or a whole run) on
such data, or silently change it, PostgreSQL gets a reversible spelling: NUL as a private-use pair in text, and
non-finite floats in JSON as {"__float__": "nan"} (the spelling the candidate channel already uses).
"""

from __future__ import annotations

import json
import math
from typing import Any

from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

_ESC = "\ue000"  # private use: escapes itself and NUL, so every stored string decodes to exactly what was written
_ESC_ESC, _ESC_NUL = _ESC + "\ue001", _ESC + "\ue002"


class StoredText(TypeDecorator[str]):
    """Text that may hold NUL characters (escaped on PostgreSQL, as is on SQLite)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or dialect.name != "postgresql" or ("\x00" not in value and _ESC not in value):
            return value
        return value.replace(_ESC, _ESC_ESC).replace("\x00", _ESC_NUL)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or dialect.name != "postgresql" or _ESC not in value:
            return value
        return value.replace(_ESC_NUL, "\x00").replace(_ESC_ESC, _ESC)


def json_dumps(value: Any) -> str:
    """JSON for PostgreSQL: non-finite floats as {"__float__": repr}; lone surrogates as in `plain_json_dumps`."""
    return plain_json_dumps(_tag_floats(value))


def plain_json_dumps(value: Any) -> str:
    """JSON columns' text as json.dumps writes it, with lone surrogates (\\udcff) made '?', so that what is read
    back is valid text for a page, a CSV or Parquet (and PostgreSQL's jsonb would refuse it)."""
    text = json.dumps(value)
    if "\\ud" not in text:
        return text
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "replace").decode("utf-8")


def json_loads(text: str) -> Any:
    return json.loads(text, object_hook=_untag_float)


def _tag_floats(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, dict):
        return {k: _tag_floats(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tag_floats(v) for v in value]
    return value


def _untag_float(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and obj.get("__float__") in ("nan", "inf", "-inf"):
        return float(obj["__float__"])
    return obj
