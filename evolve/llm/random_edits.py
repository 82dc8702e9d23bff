"""Stand-in "models" that are honest about being stand-ins: they do not read the task, they make random edits.

They exist to measure the *search* (parent selection, model bandits, novelty) where no strong model can be
reached: each reply is the parent program from the prompt with a few random changes inside its EVOLVE-BLOCKs
(a number scaled or nudged, two neighbouring lines swapped, a line dropped), sent back as a full rewrite.

- `scripted:random-edits`: mostly small number changes, few structural ones; its replies always parse.
- `scripted:sloppy-edits`: the worse one: bigger changes, more swaps and drops, and a share of replies cut off
  mid-program (they do not parse and are stored `invalid`, as a weak model's would be).

Both take the request's `seed`, so a seeded run is reproducible. Use them with `--model scripted:random-edits`.
"""

from __future__ import annotations

import ast
import random
import re
import time
from dataclasses import dataclass
from typing import Any

from evolve.edits import EditError, find_blocks

from .tokens import count_message_tokens, count_tokens
from .types import Reply, Usage

_NUMBER = re.compile(r"(?<![\w.])(\d+\.\d*|\.\d+|\d+)(?![\w.])")
_FLOAT = re.compile(r"(?<![\w.])(\d+\.\d*|\.\d+)(?![\w.])")
_PARENT = re.compile(r"^Current program\b[^\n]*\n```[\w+-]*\n(.*?)\n```", re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class EditStyle:
    """How one stand-in edits: weights of the kinds of change, their size, and how often it breaks."""

    number: float  # weight of "change a number"
    ints: bool  # whether integers change too (they are often sizes and counts: changing them breaks more)
    swap: float  # weight of "swap two neighbouring lines"
    drop: float  # weight of "drop a line"
    scale: float  # relative size of a number change (a float is multiplied by 1 + N(0, scale))
    max_changes: int  # 1..this many changes per reply
    broken: float  # share of replies cut off mid-program


STYLES: dict[str, EditStyle] = {
    "random-edits": EditStyle(number=0.9, ints=False, swap=0.05, drop=0.05, scale=0.05, max_changes=2, broken=0.0),
    "sloppy-edits": EditStyle(number=0.5, ints=True, swap=0.25, drop=0.25, scale=0.3, max_changes=4, broken=0.3),
}


def mutate(source: str, style: EditStyle, rng: random.Random) -> str:
    """`source` with 1..max_changes random changes inside its EVOLVE-BLOCKs (the whole text if it has none);
    a change that would not parse, or changes nothing, is drawn again (up to a bound)."""
    for _ in range(rng.randint(1, style.max_changes)):
        for _attempt in range(20):
            trial = _one_change(source, style, rng)
            if trial is not None and trial != source and _parses(trial):
                source = trial
                break
    return source


def _one_change(source: str, style: EditStyle, rng: random.Random) -> str | None:
    lines = source.split("\n")
    try:
        spans = find_blocks(source) or [(0, len(lines))]
    except EditError:
        spans = [(0, len(lines))]
    editable = [i for a, b in spans for i in range(a, b)
                if lines[i].strip() and not lines[i].lstrip().startswith(("#", '"""'))]
    if not editable:
        return None
    kind = rng.choices(("number", "swap", "drop"), weights=(style.number, style.swap, style.drop))[0]
    i = rng.choice(editable)
    if kind == "number":
        numbers = list((_NUMBER if style.ints else _FLOAT).finditer(lines[i]))
        if not numbers:
            return None
        m = rng.choice(numbers)
        lines[i] = lines[i][:m.start()] + _changed(m.group(0), style.scale, rng) + lines[i][m.end():]
    elif kind == "swap":
        if i + 1 not in editable or _indent(lines[i]) != _indent(lines[i + 1]):
            return None
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    elif lines[i].rstrip().endswith(":"):  # dropping a block's header would orphan its body
        return None
    else:
        del lines[i]
    return "\n".join(lines)


def _changed(number: str, scale: float, rng: random.Random) -> str:
    if "." in number:
        return repr(round(float(number) * (1 + rng.gauss(0, scale)), 4))
    value = int(number)
    return str(max(0, value + rng.choice((-1, 1)) * max(1, round(abs(value) * scale))))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return True


class RandomEditProvider:
    """An LLMProvider that answers a mutation prompt with a randomly edited copy of its parent program."""

    def __init__(self, style: str = "random-edits", *, context_tokens: int = 8192) -> None:
        if style not in STYLES:
            raise ValueError(f"unknown edit style {style!r}; known: {', '.join(STYLES)}")
        self.name = f"scripted:{style}"
        self.style = STYLES[style]
        self.context_tokens = context_tokens

    def count_tokens(self, text: str) -> int:
        return count_tokens(text)

    async def generate(self, messages: list[dict[str, str]], **params: Any) -> Reply:
        start = time.perf_counter()
        rng = random.Random(params.get("seed"))
        # the parent is in the mutation prompt (the last user message, or an earlier one under a repair turn)
        match = next((m for msg in reversed(messages) if (m := _PARENT.search(msg.get("content") or ""))), None)
        if match is None:  # a meta-guidance or novelty question: a stand-in has no judgement to offer
            text = "(a stand-in model that makes random edits has no opinion)"
        else:
            child = mutate(match.group(1), self.style, rng)
            if rng.random() < self.style.broken:
                child = child[: rng.randrange(len(child) // 3, max(len(child) // 3 + 1, len(child) - 1))]
            text = f"```python\n{child}\n```"
        usage = Usage(count_message_tokens(messages), count_tokens(text), 0.0)
        return Reply(text, usage, self.name, time.perf_counter() - start, finish_reason="stop")
