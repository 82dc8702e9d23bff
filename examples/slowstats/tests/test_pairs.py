import random

from slowstats import count_pairs_with_sum


def brute_force(values, target):
    return sum(1 for i, a in enumerate(values) for b in values[i + 1:] if a + b == target)


def test_small_cases():
    assert count_pairs_with_sum([], 0) == 0
    assert count_pairs_with_sum([1], 2) == 0
    assert count_pairs_with_sum([1, 1], 2) == 1
    assert count_pairs_with_sum([1, 1, 1], 2) == 3
    assert count_pairs_with_sum([2, 2, 0, 4], 4) == 2
    assert count_pairs_with_sum([-1, 1, 0, 0], 0) == 2


def test_matches_brute_force_on_random_lists():
    rng = random.Random(7)
    for _ in range(50):
        values = [rng.randint(-6, 6) for _ in range(rng.randint(0, 40))]
        target = rng.randint(-8, 8)
        assert count_pairs_with_sum(values, target) == brute_force(values, target)
