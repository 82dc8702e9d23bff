"""Read the task model's answer out of its output and score it against the example's target.

Small models wrap answers in chatter ("Sure! The answer is **Yes**."), so extraction looks for an explicit
"answer is"/"Answer:" cue first, then for the answer at the start, then the last one mentioned (where
step-by-step reasoning ends). An output with no answer in it is `unparsable` (or `refused` when it declines),
never silently wrong: the reflective operator shows those notes to the optimizer.

A task-defined metric is the task author's own Python (like task.yaml, it is part of the task, not of a
candidate); it receives the output as a string and never evaluates it.
"""

from __future__ import annotations

import importlib.util
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolve.errors import ConfigError
from evolve.examples import Example

Note = str  # correct | wrong | unparsable | refused | empty | error


@dataclass(frozen=True)
class Judgement:
    """What was read from one output and how it scored (score in [0, 1])."""

    answer: str | None
    score: float
    note: Note


Judge = Callable[[str, Example], Judgement]

_CUE = re.compile(r"(?:final answer|answer|label|result|sentiment|output)\s*(?:is|:|=)\s*", re.IGNORECASE)
_NUMBER = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?")
_REFUSAL = re.compile(r"\b(I'?m sorry|I am sorry|I (?:cannot|can't|can not|am unable|'m unable)|as an AI)\b",
                      re.IGNORECASE)


def make_judge(extract: str, *, labels: dict[str, list[str]] | None = None,
               metric_path: Path | None = None) -> Judge:
    """The judge for a task's `prompt.answer` settings."""
    if extract == "label":
        return _judged(_LabelReader(labels or {}).read, operator.eq)
    if extract == "number":
        return _judged(_read_number, _same_number)
    if extract == "exact":
        return _judged(_read_line, lambda answer, target: _norm(answer) == _norm(target))
    if extract == "metric":
        assert metric_path is not None
        return _metric_judge(metric_path)
    raise ValueError(f"unknown answer extraction {extract!r}")


def _failed(output: str) -> Judgement:
    if not output.strip():
        return Judgement(None, 0.0, "empty")
    return Judgement(None, 0.0, "refused" if _REFUSAL.search(output) else "unparsable")


def _judged(read: Callable[[str], str | None], same: Callable[[str, str], bool]) -> Judge:
    def judge(output: str, example: Example) -> Judgement:
        answer = read(output)
        if answer is None:
            return _failed(output)
        right = same(answer, example.target)
        return Judgement(answer, 1.0 if right else 0.0, "correct" if right else "wrong")

    return judge


class _LabelReader:
    """Labels recognised by their verbalizers (whole words, any case); the label itself always counts."""

    def __init__(self, labels: dict[str, list[str]]) -> None:
        words = [(w, label) for label, verbal in labels.items() for w in {label, *verbal}]
        words.sort(key=lambda pair: -len(pair[0]))  # "not true" before "true"
        self.label_of = {w.lower(): label for w, label in words}
        self.pattern = re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w, _ in words) + r")(?![\w-])",
                                  re.IGNORECASE)

    def read(self, output: str) -> str | None:
        cues = list(_CUE.finditer(output))
        if cues:
            found = self.pattern.search(output, cues[-1].end())
            if found and found.start() - cues[-1].end() <= 20:
                return self.label_of[found.group(1).lower()]
        hits = list(self.pattern.finditer(output))
        if not hits:
            return None
        first = hits[0]
        if not re.search(r"\w", output[: first.start()]):  # the output starts with its answer
            return self.label_of[first.group(1).lower()]
        return self.label_of[hits[-1].group(1).lower()]


def _read_number(output: str) -> str | None:
    """After the last cue: the result of its line's last "=", else its first number; else the last number."""
    cues = list(_CUE.finditer(output)) + list(re.finditer(r"####\s*", output))
    if cues:
        line = output[max(c.end() for c in cues):].split("\n", 1)[0]
        found = _NUMBER.findall(line.rsplit("=", 1)[-1]) if "=" in line else _NUMBER.findall(line)[:1]
        if found:
            return _clean_number(found[0])
    numbers = _NUMBER.findall(output)
    return _clean_number(numbers[-1]) if numbers else None


def _clean_number(text: str) -> str:
    return text.replace("$", "").replace(",", "").rstrip(".")


def _same_number(answer: str, target: str) -> bool:
    try:
        a, b = float(answer), float(_clean_number(target))
    except ValueError:
        return False
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _read_line(output: str) -> str | None:
    cues = list(_CUE.finditer(output))
    text = output[cues[-1].end():] if cues else output
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    return line.strip() or None


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _metric_judge(path: Path) -> Judge:
    """Load `score(output, example_record) -> float | (float, answer)` from the task's metric file."""
    spec = importlib.util.spec_from_file_location(f"evolve_task_metric_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001  (any error in the task's file is a task error)
        raise ConfigError(str(path), "", f"the metric file failed to load: {type(exc).__name__}: {exc}") from None
    score_fn: Callable[[str, dict[str, Any]], Any] | None = getattr(module, "score", None)
    if not callable(score_fn):
        raise ConfigError(str(path), "score", "expected a function score(output, example) -> float in [0, 1]")

    def judge(output: str, example: Example) -> Judgement:
        if not output.strip():
            return Judgement(None, 0.0, "empty")
        try:
            value = score_fn(output, dict(example.record))
        except Exception as exc:  # noqa: BLE001  (the metric's own bug must not stop the run; noted per example)
            return Judgement(None, 0.0, f"error: metric raised {type(exc).__name__}: {exc}"[:200])
        answer = None
        if isinstance(value, tuple):
            value, answer = value
        score = min(1.0, max(0.0, float(value)))
        return Judgement(None if answer is None else str(answer), score, "correct" if score >= 1.0 else "wrong")

    return judge
