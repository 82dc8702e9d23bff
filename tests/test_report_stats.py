"""Known-answer tests of the report's statistics (evolve/report/stats.py)."""

import math

import numpy as np
import pytest

from evolve.report import stats


def test_median_and_percentile_interval_on_known_arrays():
    assert stats.median([3.0, 1.0, 2.0]) == 2.0
    assert stats.median([4.0, 1.0, 2.0, 3.0]) == 2.5
    assert math.isnan(stats.median([]))
    assert stats.percentile_interval(list(range(101))) == pytest.approx((2.5, 97.5))
    assert stats.percentile_interval([1.0, 3.0], level=0.5) == pytest.approx((1.5, 2.5))


def test_bootstrap_interval_of_the_median():
    assert stats.bootstrap_interval([5.0, 5.0, 5.0]) == (5.0, 5.0)
    assert stats.bootstrap_interval([7.0]) == (7.0, 7.0)
    # with three seeds the median of a resample is the lowest value in 7 of 27 resamples: the interval is the range
    assert stats.bootstrap_interval([1.0, 2.0, 3.0]) == (1.0, 3.0)
    wide = list(np.linspace(0.0, 1.0, 41))
    low, high = stats.bootstrap_interval(wide)
    assert 0.25 < low < 0.5 < high < 0.75  # the median's interval is far narrower than the data's range
    assert stats.bootstrap_interval(wide) == (low, high)  # fixed seed: the same report twice
    noisy = list(np.random.default_rng(0).normal(size=30))
    mean_interval = stats.bootstrap_interval(noisy, statistic=np.mean)
    assert stats.bootstrap_interval(noisy, statistic=np.mean, seed=1) != mean_interval  # the seed is what fixes it


def test_bootstrap_difference_says_which_side_is_better_and_how_sure():
    d = stats.bootstrap_difference([10.0, 11.0, 12.0], [1.0, 2.0, 3.0])
    assert d.estimate == 9.0 and d.p_a_better == 1.0 and d.p_b_better == 0.0
    assert 7.0 <= d.low <= 9.0 <= d.high <= 11.0  # resampled means stay within each side's range
    assert d.resampled
    lower = stats.bootstrap_difference([10.0, 11.0, 12.0], [1.0, 2.0, 3.0], maximize=False)
    assert lower.p_a_better == 0.0 and lower.p_b_better == 1.0  # a lower score wins when minimizing
    tie = stats.bootstrap_difference([1.0, 1.0], [1.0, 1.0])
    assert tie.estimate == 0.0 and tie.p_a_better == tie.p_b_better == 0.0
    overlap = stats.bootstrap_difference([1.0, 2.0, 3.0], [1.5, 2.5, 3.5])
    assert overlap.low < 0.0 < overlap.high and 0.0 < overlap.p_a_better < overlap.p_b_better < 1.0
    assert not stats.bootstrap_difference([1.0], [2.0, 3.0]).resampled
    with pytest.raises(ValueError):
        stats.bootstrap_difference([], [1.0])


def test_step_values_hold_each_point_until_the_next():
    got = stats.step_values([0, 2, 5], [1, 3, 4], [-1, 0, 1, 2, 4, 5, 9])
    assert np.isnan(got[0])
    assert got[1:].tolist() == [1, 1, 3, 3, 4, 4]


def test_curve_band_is_the_median_across_seeds_up_to_the_shortest_seed():
    curves = [([0, 1, 2, 3], [1, 2, 2, 5]), ([0, 2], [1, 4]), ([0, 1, 2, 3, 4], [1, 1, 1, 1, 9])]
    band = stats.curve_band(curves, points=5)
    assert band.seeds == 3 and band.grid[0] == 0 and band.grid[-1] == 2  # the second seed stops at 2
    at = {float(x): (m, lo, hi) for x, m, lo, hi in zip(band.grid, band.median, band.low, band.high)}
    assert at[0.0] == (1, 1, 1)
    assert at[1.0][0] == 1 and at[2.0][0] == 2  # medians of (2, 1, 1) and (2, 4, 1)
    assert at[2.0][1] == 1 and at[2.0][2] == 4  # three seeds: the interval spans them
    single = stats.curve_band([([0, 3], [1, 2])])
    assert single.seeds == 1 and np.array_equal(single.low, single.median) and np.array_equal(single.high, single.median)


def test_an_infinite_score_gives_infinite_bounds_not_nan(recwarn):
    """An evaluator may score inf; interpolating percentiles between infinities gave NaN bounds and warnings."""
    assert stats.percentile_interval([math.inf, 16.0, 16.0, 16.0], 0.5) == (16.0, 16.0)
    assert stats.percentile_interval([math.inf] * 3 + [1.0], 0.95)[1] == math.inf
    low, high = stats.bootstrap_interval([math.inf, 16.0, 16.0])
    assert (low, high) == (16.0, math.inf)
    diff = stats.bootstrap_difference([11.5, 11.5], [math.inf, 16.0])
    assert diff.estimate == -math.inf and diff.low == -math.inf and diff.p_b_better == 1.0
    both = stats.bootstrap_difference([math.inf], [math.inf])
    assert math.isnan(both.estimate) and both.p_a_better == both.p_b_better == 0.0
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_a_best_known_value_far_off_the_curves_is_written_not_drawn():
    """A reference line far above the data would squeeze the curves into a sliver; near it, it is drawn."""
    import numpy as np

    from evolve.report import figures
    from evolve.report.stats import Band

    grid = np.arange(5.0)
    band = Band(grid, np.array([2.04, 2.05, 2.07, 2.08, 2.09]), np.full(5, 2.04), np.full(5, 2.10), 3)

    def panel_of(best_known: float):
        fig = figures.progress_figure([figures.ProgressPanel("t", "best", [figures.Curve("a", band)], best_known)],
                                      "evaluations", "title")
        ax = fig.axes[0]
        return [line.get_ydata()[0] for line in ax.get_lines()[1:]], [t.get_text() for t in ax.texts]

    lines, texts = panel_of(2.636)
    assert lines == [] and texts == ["best known 2.636 (above this scale)"]
    lines, texts = panel_of(2.12)
    assert lines == [2.12] and texts == []
