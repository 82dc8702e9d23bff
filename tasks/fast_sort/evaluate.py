"""Evaluator for fast_sort: sort with as few comparisons as possible, every comparison answered here.

The candidate's sort() sees only opaque items and a less(a, b) whose answers come from this process (see
driver.py), so the comparison count is this evaluator's own tally and cannot be forged. The returned order
must be sorted and *proved* by the answers: each adjacent pair must follow from a chain of answered
comparisons, so a lucky guess (say, returning a sorted input untouched) does not pass.
"""

from __future__ import annotations

import math

import numpy as np

SIZES = (5, 12, 24, 40, 64)
KINDS = ("random", "nearly_sorted", "reversed", "duplicates")


def make_input(rng: np.random.Generator, kind: str, n: int) -> list[int]:
    """Values to sort: a random permutation, a sorted run with a few neighbours swapped, a reversed run, or
    values drawn from only n/4 distinct ones."""
    if kind == "random":
        return rng.permutation(n).tolist()
    if kind == "nearly_sorted":
        values = list(range(n))
        for i in rng.choice(n - 1, size=max(1, n // 10), replace=False):
            values[i], values[i + 1] = values[i + 1], values[i]
        return values
    if kind == "reversed":
        return list(range(n - 1, -1, -1))
    return rng.integers(0, max(2, n // 4), size=n).tolist()


def make_inputs(seed: int = 1962) -> list[tuple[str, list[int]]]:
    """One input of each kind at each size (seed 1962: dev; TEST_SEED: the held-out ones)."""
    rng = np.random.default_rng(seed)
    return [(kind, make_input(rng, kind, n)) for n in SIZES for kind in KINDS]


INPUTS = make_inputs()
TEST_SEED = 1963  # the held-out inputs (evaluate_test): the same kinds and sizes, other draws


def lower_bound(n: int) -> float:
    """log2(n!): the information-theoretic minimum of comparisons, in the worst case and on average."""
    return math.lgamma(n + 1) / math.log(2)


class Invalid(Exception):
    """The candidate broke the rules or returned a wrong or unproved order."""


def count_comparisons(candidate, values: list[int]) -> int:
    """Answer the candidate's comparisons on `values`; check its order; return how many it asked."""
    n = len(values)
    known: list[list[int]] = [[] for _ in range(n)]  # known[u] holds w whenever values[u] <= values[w] was learned
    asked = 0
    event = candidate.call("driver:start", n)
    while isinstance(event, dict) and "compare" in event:
        a, b = _pair(event["compare"], n)
        asked += 1
        if asked > n * (n - 1) // 2:
            raise Invalid(f"n={n}: more than n(n-1)/2 = {n * (n - 1) // 2} comparisons (some were repeated)")
        is_less = values[a] < values[b]
        known[a if is_less else b].append(b if is_less else a)
        event = candidate.call("driver:answer", is_less)
    if not isinstance(event, dict) or "result" not in event:
        raise Invalid(f"n={n}: the driver sent {repr(event)[:80]} instead of a comparison or a result")
    order = event["result"]
    if not isinstance(order, list) or not all(type(x) is int for x in order) or sorted(order) != list(range(n)):
        raise Invalid(f"n={n}: sort() must return a list holding each of its {n} input items once")
    for u, w in zip(order, order[1:]):
        if values[u] > values[w]:
            raise Invalid(f"n={n}: the result is not sorted (item {u} is put before item {w}, which is smaller)")
        if not _proved(known, values, u, w):
            raise Invalid(f"n={n}: items {u} and {w} are placed next to each other, but no chain of comparisons "
                          "shows their order (the result was guessed)")
    return asked


def _pair(pair, n: int) -> tuple[int, int]:
    if (not isinstance(pair, list) or len(pair) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < n for x in pair)):
        raise Invalid(f"n={n}: less() must compare two of the items it was given (ints 0..{n - 1}); got {pair!r}")
    return pair[0], pair[1]


def _proved(known: list[list[int]], values: list[int], u: int, w: int) -> bool:
    """Is values[u] <= values[w] implied by the answers? A search along learned <= facts from u to w."""
    limit, seen, todo = values[w], {u}, [u]
    while todo:
        for x in known[todo.pop()]:
            if x == w:
                return True
            if x not in seen and values[x] <= limit:  # a chain to w never passes a larger value
                seen.add(x)
                todo.append(x)
    return False


def evaluate(candidate) -> dict:
    """comparison_ratio: comparisons over log2(n!), averaged over the inputs (lower is better)."""
    return comparison_ratios(candidate, INPUTS)


def evaluate_test(candidate) -> dict:
    """The same scoring on held-out inputs of the same kinds and sizes (once per seed and best, after a run)."""
    return comparison_ratios(candidate, make_inputs(TEST_SEED))


def comparison_ratios(candidate, inputs: list[tuple[str, list[int]]]) -> dict:
    """Comparisons over log2(n!) on each of `inputs`: their mean, per kind, and the total count."""
    ratios: dict[str, list[float]] = {kind: [] for kind in KINDS}
    total = 0
    for kind, values in inputs:
        try:
            asked = count_comparisons(candidate, values)
        except Invalid as exc:
            return {"error": f"{kind} input: {exc}"}
        total += asked
        ratios[kind].append(asked / lower_bound(len(values)))
    per_kind = {f"ratio_{kind}": float(np.mean(r)) for kind, r in ratios.items()}
    return {"comparison_ratio": float(np.mean([x for r in ratios.values() for x in r])),
            "comparisons": float(total), "instances": float(len(inputs)), **per_kind}


def probes() -> list[tuple[str, tuple]]:
    """Small fixed inputs for functional hashing: the comparisons sort() asks on three short lists."""
    return [("driver:transcript", (values,)) for values in ([2, 1], [3, 1, 2], [5, 0, 4, 4, 1, 3])]
