"""Statistics of a report: medians, intervals across seeds and the bootstrap difference of two configurations.

Every function here is pure (arrays in, numbers out) so the report and the dashboard compute the same figures the
same way. Resampling uses a fixed seed by default: a report built twice from the same store is identical.

Intervals are bootstrap percentile intervals of the median across seeds: with few seeds (3 to 10 is usual in a
sweep) they are wide on purpose, and with 3 seeds they span the seeds' range. The difference of two configurations
is taken between their *means* of final scores, the statistic whose bootstrap behaves best at small n, with the
share of resamples in which each side wins as the plain-language "how sure".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_SEED = 20260101
DEFAULT_RESAMPLES = 4000
Statistic = Callable[..., np.ndarray]


def median(values: Sequence[float]) -> float:
    """The median; NaN for no values."""
    data = np.asarray(values, dtype=float)
    return float(np.median(data)) if data.size else float("nan")


def percentile_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """The central `level` share of `values` (e.g. the 2.5th and 97.5th percentiles), linear interpolation."""
    data = np.asarray(values, dtype=float)
    if not data.size:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0 * 100.0
    # an evaluator may score inf: interpolating between two infinities is NaN, so such data takes the nearest rank
    method = "linear" if np.isfinite(data).all() else "nearest"
    low, high = np.percentile(data, [tail, 100.0 - tail], method=method)
    return float(low), float(high)


def bootstrap_interval(values: Sequence[float], level: float = 0.95, statistic: Statistic = np.median,
                       resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` (default the median) of `values`; one value gives a point."""
    data = np.asarray(values, dtype=float)
    if not data.size:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    stats = statistic(data[rng.integers(0, data.size, size=(resamples, data.size))], axis=1)
    return percentile_interval(stats, level)


@dataclass(frozen=True)
class Difference:
    """A's mean final score minus B's, with a bootstrap interval and how often each side won across resamples."""

    estimate: float
    low: float
    high: float
    p_a_better: float  # share of resamples in which A's mean is better (direction-aware); ties count for neither
    p_b_better: float
    n_a: int
    n_b: int

    @property
    def resampled(self) -> bool:
        """False when a side has a single seed: the interval is then only the point difference."""
        return self.n_a > 1 and self.n_b > 1


def bootstrap_difference(a: Sequence[float], b: Sequence[float], *, maximize: bool = True, level: float = 0.95,
                         resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> Difference:
    """mean(a) - mean(b), resampling each side's seeds independently with replacement."""
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not xa.size or not xb.size:
        raise ValueError("bootstrap_difference needs at least one value on each side")
    rng = np.random.default_rng(seed)
    ma = xa[rng.integers(0, xa.size, size=(resamples, xa.size))].mean(axis=1)
    mb = xb[rng.integers(0, xb.size, size=(resamples, xb.size))].mean(axis=1)
    with np.errstate(invalid="ignore"):  # inf - inf (both sides scored inf) is NaN: a tie, counted for neither
        diff, estimate = ma - mb, float(xa.mean() - xb.mean())
    better = diff > 0 if maximize else diff < 0
    worse = diff < 0 if maximize else diff > 0
    low, high = percentile_interval(diff, level)
    return Difference(estimate, low, high, float(better.mean()), float(worse.mean()),
                      int(xa.size), int(xb.size))


def step_values(x: Sequence[float], y: Sequence[float], grid: Sequence[float]) -> np.ndarray:
    """A step function through the points (x[i], y[i]) (x ascending: y holds from x[i] until the next x), read at
    `grid`; NaN before the first point."""
    xs, ys, at = np.asarray(x, dtype=float), np.asarray(y, dtype=float), np.asarray(grid, dtype=float)
    index = np.searchsorted(xs, at, side="right") - 1
    out = np.full(at.shape, np.nan)
    inside = index >= 0
    out[inside] = ys[index[inside]]
    return out


@dataclass(frozen=True)
class Band:
    """A curve summarised across seeds: median and interval at each grid point."""

    grid: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray
    seeds: int


def curve_band(curves: Sequence[tuple[Sequence[float], Sequence[float]]], points: int = 200, level: float = 0.95,
               resamples: int = 1000, seed: int = DEFAULT_SEED) -> Band:
    """Median and bootstrap interval of the median across seeds of step curves (x, best-so-far).

    The grid runs from the latest first x to the earliest last x among the seeds, so every grid point is the
    median over all seeds (a seed that stopped early is not extrapolated). With one seed the band is the curve itself."""
    if not curves:
        raise ValueError("curve_band needs at least one curve")
    end = min(float(np.asarray(x, dtype=float)[-1]) for x, _ in curves)
    start = max(float(np.asarray(x, dtype=float)[0]) for x, _ in curves)
    xs = [np.asarray(x, dtype=float) for x, _ in curves]
    grid = np.unique(np.concatenate([np.linspace(start, max(start, end), points)] +
                                    [x[(x >= start) & (x <= end)] for x in xs]))
    values = np.vstack([step_values(x, y, grid) for x, y in curves])  # seeds x grid
    mid = np.median(values, axis=0)
    if values.shape[0] == 1:
        return Band(grid, mid, mid.copy(), mid.copy(), 1)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, values.shape[0], size=(resamples, values.shape[0]))
    boot = np.median(values[picks], axis=1)  # resamples x grid
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(boot, [tail, 100.0 - tail], axis=0)
    return Band(grid, mid, low, high, values.shape[0])
