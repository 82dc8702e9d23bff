"""Evaluator for cache_eviction: the hit rate of the candidate's eviction policy on seeded synthetic traces.

This process simulates the cache itself. It sends the trace to the candidate's driver only up to the next
request that needs an eviction and asks for the victim, so the policy is online; it checks every victim
(a key that is in the cache) and counts the hits itself. The candidate's process only ever chooses victims.
"""

from __future__ import annotations

import heapq
from typing import Callable

import numpy as np

CAPACITY = 64


def zipf_phases(rng: np.random.Generator, n: int = 4000, objects: int = 1000, phases: int = 4) -> np.ndarray:
    """Zipf(0.9) popularity over 1000 objects, reshuffled at each of 4 phases (working-set shifts)."""
    weights = 1.0 / np.arange(1, objects + 1) ** 0.9
    parts = [rng.permutation(objects)[rng.choice(objects, n // phases, p=weights / weights.sum())]
             for _ in range(phases)]
    return np.concatenate(parts)


def scans(rng: np.random.Generator, n: int = 4000, hot: int = 150, scan: int = 200) -> np.ndarray:
    """A Zipf(0.8) hot set of 150 objects, interrupted every 500 requests by a scan of 200 one-time keys."""
    weights = 1.0 / np.arange(1, hot + 1) ** 0.8
    trace, fresh = [], hot
    while len(trace) < n:
        trace.extend(rng.choice(hot, 300, p=weights / weights.sum()).tolist())
        trace.extend(range(fresh, fresh + scan))
        fresh += scan
    return np.array(trace[:n])


def loop(rng: np.random.Generator, n: int = 4000, length: int = 80, noise: float = 0.1) -> np.ndarray:
    """A loop over 80 keys (more than the cache holds), 10% of requests replaced by random other keys."""
    trace = np.arange(n) % length
    mask = rng.random(n) < noise
    trace[mask] = length + rng.integers(0, 1000, size=int(mask.sum()))
    return trace


def make_traces(seed: int = 2025) -> dict[str, list[int]]:
    """The three benchmark traces, the same on every run (seed 2025: dev; TEST_SEED: the held-out ones)."""
    rng = np.random.default_rng(seed)
    return {name: make(rng).tolist() for name, make in (("zipf", zipf_phases), ("scan", scans), ("loop", loop))}


TRACES = make_traces()
TEST_SEED = 2026  # the held-out traces (evaluate_test): the same three generators, other draws


class Invalid(Exception):
    """An illegal eviction."""


def simulate(trace: list[int], capacity: int, decide: Callable[[int], object]) -> int:
    """Replay `trace` in a cache of `capacity`; decide(i) names the victim for request i. Returns the hits."""
    cache: set[int] = set()
    hits = 0
    for i, key in enumerate(trace):
        if key in cache:
            hits += 1
            continue
        if len(cache) >= capacity:
            victim = decide(i)
            if isinstance(victim, bool) or not isinstance(victim, int) or victim not in cache:
                raise Invalid(f"request {i} (key {key}): the evicted key {victim!r} is not in the cache")
            cache.remove(victim)
        cache.add(key)
    return hits


def candidate_hits(candidate, trace: list[int], capacity: int) -> int:
    """simulate() with the candidate's policy; the driver gets each request only when the decision is due."""
    candidate.call("driver:start", capacity)
    sent = 0

    def decide(i: int) -> object:
        nonlocal sent
        victim = candidate.call("driver:advance", sent, trace[sent:i + 1])
        sent = i + 1
        return victim

    return simulate(trace, capacity, decide)


def belady_hits(trace: list[int], capacity: int) -> int:
    """Belady's offline optimum: evict the key whose next request is farthest in the future."""
    next_use, seen = [0] * len(trace), {}
    for i in range(len(trace) - 1, -1, -1):
        next_use[i] = seen.get(trace[i], len(trace) + i)  # never again: farther than any real request
        seen[trace[i]] = i
    cache: dict[int, int] = {}  # key -> its next request
    heap: list[tuple[int, int]] = []  # (-next request, key), with stale entries skipped when popped
    hits = 0
    for i, key in enumerate(trace):
        if key in cache:
            hits += 1
        elif len(cache) >= capacity:
            while True:
                neg, victim = heapq.heappop(heap)
                if cache.get(victim) == -neg:
                    break
            del cache[victim]
        cache[key] = next_use[i]
        heapq.heappush(heap, (-next_use[i], key))
    return hits


def evaluate(candidate) -> dict:
    """Hit rate per trace and their mean (the objective), all counted here."""
    return hit_rates(candidate, TRACES)


def evaluate_test(candidate) -> dict:
    """The same scoring on held-out traces (called once per seed and best, after a run)."""
    return hit_rates(candidate, make_traces(TEST_SEED))


def hit_rates(candidate, traces: dict[str, list[int]]) -> dict:
    """Hit rate on each of `traces` and their mean."""
    rates = {}
    for name, trace in traces.items():
        try:
            hits = candidate_hits(candidate, trace, CAPACITY)
        except Invalid as exc:
            return {"error": f"trace {name}: {exc}"}
        rates[f"hit_rate_{name}"] = hits / len(trace)
    return {"hit_rate": float(np.mean(list(rates.values()))), "instances": float(len(traces)), **rates}


def probes() -> list[tuple[str, tuple]]:
    """Small fixed inputs for functional hashing: a full cache of 4 slots with different histories."""
    cache = {"keys": np.array([3, 9, 4, 7]), "last_access": np.array([10, 12, 5, 11]),
             "inserted": np.array([1, 12, 2, 6]), "count": np.array([4, 1, 2, 3])}
    return [("choose_victim", (cache, 8, 13, {})),
            ("choose_victim", ({**cache, "count": np.array([1, 5, 1, 2])}, 3, 20, {}))]
