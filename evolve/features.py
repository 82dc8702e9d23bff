"""Feature descriptors that place a candidate in a MAP-Elites cell.

Built-ins work on any candidate text: code_length and edit_distance (programs), length_tokens, has_examples and
step_by_step (prompts: they separate terse instructions from few-shot and chain-of-thought styles). Any other
name is a metric the evaluator returns.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from evolve.config import FeatureSpec
from evolve.llm.tokens import count_tokens

# Worked examples in a prompt: said in words, or a demonstration: two consecutive "Label: text" lines whose labels
# come back later in the prompt (where the real input goes), as in "Q: 2 + 2?\nA: 4\n...\nQ: {input}\nA:".
_EXAMPLE_WORDS = re.compile(r"\b(examples?\s*\d*\s*:|e\.g\.|for (example|instance))", re.IGNORECASE)
_LABELLED = re.compile(r"^\s*([A-Za-z][\w ]{0,24}):\s*(.*)$")
# Wording that asks for reasoning before the answer.
_STEPS = re.compile(r"\b(step[- ]by[- ]step|think (it )?through|reason(ing)? (carefully|first|about)|"
                    r"show your (work|reasoning)|explain your reasoning|let'?s think|first,.*then)\b",
                    re.IGNORECASE | re.DOTALL)


def _has_examples(text: str) -> bool:
    if _EXAMPLE_WORDS.search(text):
        return True
    lines = [(m.group(1).lower(), m.group(2).strip()) if (m := _LABELLED.match(line)) else None
             for line in text.splitlines()]
    for i, (first, second) in enumerate(itertools.pairwise(lines)):
        later = {line[0] for line in lines[i + 2:] if line}
        if first and second and first[1] and second[1] and {first[0], second[0]} <= later:
            return True
    return False


_BUILTIN: dict[str, Callable[[str, str], float]] = {
    "code_length": lambda source, seed: float(len(source)),
    "edit_distance": lambda source, seed: edit_distance(seed, source),
    "length_tokens": lambda source, seed: float(count_tokens(source)),
    "has_examples": lambda source, seed: float(_has_examples(source)),
    "step_by_step": lambda source, seed: float(bool(_STEPS.search(source))),
}
BUILTIN_FEATURES = tuple(_BUILTIN)


@dataclass(frozen=True)
class FeatureDim:
    """A feature with a fixed range cut into equal bins; values outside the range fall into the end bins."""

    name: str
    bins: int
    low: float
    high: float

    def bin(self, value: float) -> int:
        if not math.isfinite(value):
            return 0
        frac = (value - self.low) / (self.high - self.low)
        return min(self.bins - 1, max(0, int(frac * self.bins)))


def resolve_dims(specs: list[FeatureSpec], seed_source: str, objective: str, best_known: float | None) -> list[FeatureDim]:
    """Fill in missing ranges: lengths up to 4x the seed, yes/no styles and edit distance 0..1, the objective
    0..best known."""
    defaults = {  # computed only for the dimensions a task has (counting tokens loads the tokenizer)
        "code_length": lambda: (0.0, float(max(200, 4 * len(seed_source)))),
        "length_tokens": lambda: (0.0, float(max(64, 4 * count_tokens(seed_source)))),
        objective: lambda: (0.0, float(best_known) if best_known else 1.0),
    }
    dims = []
    for spec in specs:
        low, high = defaults.get(spec.name, lambda: (0.0, 1.0))()
        dims.append(FeatureDim(spec.name, spec.bins, spec.min if spec.min is not None else low,
                               spec.max if spec.max is not None else high))
    return dims


def edit_distance(a: str, b: str) -> float:
    """Normalized line-level distance in [0, 1]: 0 for identical texts, 1 for nothing in common."""
    return 1.0 - difflib.SequenceMatcher(None, a.splitlines(), b.splitlines(), autojunk=False).ratio()


def describe(source: str, seed_source: str, metrics: dict[str, float], dims: list[FeatureDim]) -> dict[str, float]:
    """Compute each dimension's raw value; a metric the evaluator did not return counts as 0."""
    return {dim.name: _BUILTIN[dim.name](source, seed_source) if dim.name in _BUILTIN
            else float(metrics.get(dim.name, 0.0)) for dim in dims}
