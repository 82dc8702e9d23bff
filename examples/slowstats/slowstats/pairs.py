"""Pair counting over a list of integers."""


def count_pairs_with_sum(values: list[int], target: int) -> int:
    """How many index pairs i < j have values[i] + values[j] == target."""
    count = 0
    for i in range(len(values)):
        for j in range(i + 1, len(values)):
            if values[i] + values[j] == target:
                count += 1
    return count


def describe(values: list[int]) -> str:
    """A one-line summary, used by the command line."""
    return f"{len(values)} values, {count_pairs_with_sum(values, 0)} pairs summing to 0"
