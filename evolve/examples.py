"""A prompt task's examples: JSONL split files read into `Example`s, validated line by line.

Dataset text is data: it is parsed as JSON and passed to the task model as text, never evaluated. Every error
names the file, the line and the field, because split files are written by hand or by a task's generator.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evolve.errors import ConfigError


@dataclass(frozen=True)
class Example:
    """One problem of a split: the text put into the prompt, the expected answer, and the whole JSON record
    (a task-defined metric may use more of its fields)."""

    id: str
    input: str
    target: str
    record: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def load_examples(path: Path, *, input_field: str = "input", target_field: str = "target") -> list[Example]:
    """Read a JSONL split: one object per line with an input and a target (numbers are read as text)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), "", f"cannot read the split file: {exc}") from None
    examples: list[Example] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(where, "", f"not a JSON object: {exc.msg}") from None
        if not isinstance(record, dict):
            raise ConfigError(where, "", f"expected a JSON object, got {type(record).__name__}")
        text = _text(record, input_field, where)
        target = _text(record, target_field, where)
        example_id = str(record.get("id", f"{path.stem}-{number}"))
        if example_id in seen:
            raise ConfigError(where, "id", f"duplicate id {example_id!r}")
        seen.add(example_id)
        examples.append(Example(example_id, text, target, record))
    if not examples:
        raise ConfigError(str(path), "", "the split has no examples")
    return examples


def _text(record: dict[str, Any], name: str, where: str) -> str:
    value = record.get(name)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        got = "missing" if value is None else f"a {type(value).__name__}"
        raise ConfigError(where, name, f"expected a string or a number, got {got}")
    text = str(value)
    if not text.strip():
        raise ConfigError(where, name, "is empty")
    return text
