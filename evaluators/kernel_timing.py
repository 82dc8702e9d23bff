"""Timing a GPU engineer would believe: cold L2, device clocks, interleaved baselines, a wall-clock check.

Each trial flushes the L2 cache (a 256 MB write) untimed, then brackets one call with CUDA events. The
candidate, eager PyTorch and torch.compile are timed in rotating order within each round, so clock and thermal
drift hit all of them alike, and each gets at least `min_total_s` of measured time. Speed-ups come from
per-round ratios, so their spread is measured too. A wall-clock run after a device-wide synchronize catches
work on other streams, which CUDA events on the current stream do not see. On the CPU stand-in the same loop
runs with perf_counter.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch

FLUSH_BYTES = 256 << 20
_perf_counter = time.perf_counter  # bound before any candidate loads; the guards check nobody replaced it


class Backend:
    """Markers and cache flush for one device: CUDA events, or perf_counter on the CPU stand-in."""

    def __init__(self, device: str) -> None:
        self.cuda = device.startswith("cuda")
        self._flush = torch.empty(FLUSH_BYTES // 4 if self.cuda else (8 << 20) // 4, dtype=torch.int32,
                                  device=device)
        self._event = torch.cuda.Event if self.cuda else None
        self._synchronize = torch.cuda.synchronize if self.cuda else (lambda: None)

    def flush(self) -> None:
        self._flush.zero_()

    def mark(self) -> object:
        if self._event is None:
            return _perf_counter()
        event = self._event(enable_timing=True)
        event.record()
        return event

    def seconds(self, start: object, end: object) -> float:
        """Elapsed time between two marks (call after sync())."""
        if self._event is None:
            return float(end) - float(start)  # type: ignore[arg-type]
        return start.elapsed_time(end) / 1e3  # type: ignore[attr-defined]

    def sync(self) -> None:
        self._synchronize()


@dataclass(frozen=True)
class Stats:
    """Median and spread of one function's trial times (seconds)."""

    median: float
    spread: float  # interquartile range / median
    cv: float  # standard deviation / mean
    trials: int
    total: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        ordered = sorted(samples)
        median = statistics.median(ordered)
        q1, q3 = _quantile(ordered, 0.25), _quantile(ordered, 0.75)
        mean = statistics.fmean(ordered)
        cv = statistics.pstdev(ordered) / mean if mean > 0 and len(ordered) > 1 else 0.0
        return cls(median, (q3 - q1) / median if median > 0 else 0.0, cv, len(ordered), math.fsum(ordered))


def _quantile(ordered: Sequence[float], q: float) -> float:
    pos = q * (len(ordered) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def interleaved(fns: Mapping[str, Callable[[], object]], backend: Backend, *, min_total_s: float = 0.1,
                min_rounds: int = 10, max_rounds: int = 20000, budget_s: float = 20.0,
                warmup: int = 3) -> dict[str, list[float]]:
    """Per function, the seconds of each trial; rounds run every function once, in rotating order.

    Rounds: enough for the fastest function to reach `min_total_s`, within `max_rounds` and a `budget_s` of
    estimated wall time (the slower functions then get more measured time, never less)."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    backend.sync()
    estimates = [_estimate(fns[name], backend) for name in names]
    round_s = sum(estimates) + len(names) * _estimate(backend.flush, backend)
    wanted = math.ceil(min_total_s / max(min(estimates), 1e-7))
    planned = max(min_rounds, min(wanted, max_rounds, int(budget_s / max(round_s, 1e-9))))
    marks: dict[str, list[tuple[object, object]]] = {name: [] for name in names}
    started, done = _perf_counter(), 0
    while True:
        for r in range(done, planned):
            for name in names[r % len(names):] + names[:r % len(names)]:
                backend.flush()
                start = backend.mark()
                fns[name]()
                marks[name].append((start, backend.mark()))
            if backend.cuda and (r + 1) % 1000 == 0:  # bound the number of outstanding events
                backend.sync()
        backend.sync()
        done = planned
        times = {name: [backend.seconds(a, b) for a, b in pairs] for name, pairs in marks.items()}
        shortest = min(math.fsum(t) for t in times.values())
        elapsed = _perf_counter() - started
        needed = math.ceil((min_total_s - shortest) / max(shortest / done, 1e-9)) + 1
        affordable = int((budget_s - elapsed) / max(elapsed / done, 1e-9))
        if shortest >= min_total_s or min(needed, affordable, max_rounds - done) <= 0:
            return times
        planned = done + min(needed, affordable, max_rounds - done)


def _estimate(fn: Callable[[], object], backend: Backend, calls: int = 5) -> float:
    backend.sync()
    start = backend.mark()
    for _ in range(calls):
        fn()
    end = backend.mark()
    backend.sync()
    return backend.seconds(start, end) / calls


def ratio_stats(numerator: Sequence[float], denominator: Sequence[float]) -> Stats:
    """Speed-up per round (baseline time / candidate time of the same round)."""
    return Stats.of([a / b for a, b in zip(numerator, denominator) if b > 0])


@dataclass(frozen=True)
class CrossCheck:
    """Back-to-back calls timed by the current stream's events and by the wall clock after a device sync."""

    event_s: float
    wall_s: float
    calls: int

    def problem(self) -> str | None:
        """Work the events did not see (another stream, a thread) shows as wall time far beyond event time."""
        if self.wall_s - self.event_s > 0.25 * self.wall_s + 200e-6:
            return (f"wall-clock time {self.wall_s * 1e3:.3f} ms for {self.calls} calls is far above the "
                    f"{self.event_s * 1e3:.3f} ms the current stream's events saw: work runs outside the "
                    "timed stream (side streams or threads)")
        return None


def cross_check(fn: Callable[[], object], backend: Backend, per_call_s: float,
                min_total_s: float = 0.02) -> CrossCheck:
    """Run `fn` back to back for at least `min_total_s`, timed both ways."""
    calls = max(3, min(10000, math.ceil(min_total_s / max(per_call_s, 1e-7))))
    backend.sync()
    wall0 = _perf_counter()
    start = backend.mark()
    for _ in range(calls):
        fn()
    end = backend.mark()
    backend.sync()
    wall = _perf_counter() - wall0
    return CrossCheck(backend.seconds(start, end), wall, calls)
