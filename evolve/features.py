"""Feature descriptors that place a candidate in a MAP-Elites cell."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

from evolve.config import FeatureSpec

BUILTIN_FEATURES = ("code_length", "edit_distance")


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
    """Fill in missing ranges: code length up to 4x the seed, edit distance 0..1, the objective 0..best known."""
    defaults = {
        "code_length": (0.0, float(max(200, 4 * len(seed_source)))),
        "edit_distance": (0.0, 1.0),
        objective: (0.0, float(best_known) if best_known else 1.0),
    }
    dims = []
    for spec in specs:
        low, high = defaults.get(spec.name, (0.0, 1.0))
        dims.append(FeatureDim(spec.name, spec.bins, spec.min if spec.min is not None else low,
                               spec.max if spec.max is not None else high))
    return dims


def edit_distance(a: str, b: str) -> float:
    """Normalized line-level distance in [0, 1]: 0 for identical texts, 1 for nothing in common."""
    return 1.0 - difflib.SequenceMatcher(None, a.splitlines(), b.splitlines(), autojunk=False).ratio()


def describe(source: str, seed_source: str, metrics: dict[str, float], dims: list[FeatureDim]) -> dict[str, float]:
    """Compute each dimension's raw value; a metric the evaluator did not return counts as 0."""
    values: dict[str, float] = {}
    for dim in dims:
        if dim.name == "code_length":
            values[dim.name] = float(len(source))
        elif dim.name == "edit_distance":
            values[dim.name] = edit_distance(seed_source, source)
        else:
            values[dim.name] = float(metrics.get(dim.name, 0.0))
    return values
