"""Prompt fitting: the richest rendering that fits the model's budget, counted only when it might not fit."""

from __future__ import annotations

from evolve.llm import count_tokens
from evolve.prompting import _first_fitting


class CountingTokens:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, text: str) -> int:
        self.calls += 1
        return count_tokens(text)


RICH, BARE = "inspiration " * 200, "parent only"


def test_a_roomy_budget_takes_the_richest_prompt_without_counting():
    counter = CountingTokens()
    messages = _first_fitting("system", iter([RICH, BARE]), 100_000, counter)
    assert messages[1]["content"] == RICH and counter.calls == 0


def test_a_tight_budget_counts_and_falls_back_to_what_fits():
    counter = CountingTokens()
    budget = count_tokens("system") + count_tokens(RICH) - 1  # fewer tokens than the rich prompt needs
    assert len(RICH.encode()) > budget  # so the byte bound cannot decide it
    messages = _first_fitting("system", iter([RICH, BARE]), budget, counter)
    assert messages[1]["content"] == BARE and counter.calls >= 2


def test_nothing_fits_gives_the_barest_prompt():
    messages = _first_fitting("system " * 50, iter([RICH, BARE]), 5, count_tokens)
    assert messages[1]["content"] == BARE
