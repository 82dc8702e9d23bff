"""MAP-Elites descriptors of prompts: length in tokens and two style flags, configurable like any feature."""

import pytest

from evolve.config import FeatureSpec
from evolve.features import describe, resolve_dims

SEED = "Classify the review.\nReview: {input}\nSentiment:"


@pytest.mark.parametrize("prompt,examples,steps", [
    (SEED, 0, 0),
    ("Think step by step, then answer.\n{input}", 0, 1),
    ("Let's think about it first, then give the label.\n{input}", 0, 1),
    ("Classify the review.\nExample: 'Great screen' -> positive\n{input}", 1, 0),
    ("Classify the review.\nReview: I love it\nSentiment: positive\n\nReview: {input}\nSentiment:", 1, 0),
    ("Q: 2 + 2?\nA: 4\nFirst, reason step-by-step.\nQ: {input}\nA:", 1, 1),
])
def test_style_flags(prompt, examples, steps):
    dims = resolve_dims([FeatureSpec(name="has_examples", bins=2), FeatureSpec(name="step_by_step", bins=2)],
                        SEED, "accuracy", None)
    values = describe(prompt, SEED, {}, dims)
    assert (values["has_examples"], values["step_by_step"]) == (examples, steps)
    assert [dim.bin(values[dim.name]) for dim in dims] == [examples, steps]


def test_length_in_tokens_spans_up_to_four_times_the_seed_by_default():
    [dim] = resolve_dims([FeatureSpec(name="length_tokens", bins=4)], SEED, "accuracy", None)
    assert dim.low == 0 and dim.high == 64  # the seed has ~12 tokens; the range is at least 64
    short, long = (describe(p, SEED, {}, [dim])["length_tokens"] for p in (SEED, SEED + " word" * 60))
    assert 5 < short < 20 and dim.bin(short) == 0 and dim.bin(long) == 3
