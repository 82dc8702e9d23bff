"""The stand-in mutators of benchmarks/search_quality.py: random edits inside the EVOLVE-BLOCK, honest names."""

import ast
import asyncio
import random

from evolve.edits import apply_reply
from evolve.llm import build_provider, parse_model_spec
from evolve.llm.random_edits import STYLES, mutate
from evolve.resources import builtin_task_dirs

SOURCE = (builtin_task_dirs()["circle_packing"] / "initial_program.py").read_text()
OUTSIDE = SOURCE[SOURCE.index("# EVOLVE-BLOCK-END"):]


def test_random_edits_change_only_the_block_and_always_parse():
    children = [mutate(SOURCE, STYLES["random-edits"], random.Random(seed)) for seed in range(30)]
    assert sum(child != SOURCE for child in children) >= 25
    for child in children:
        ast.parse(child)
        assert child.endswith(OUTSIDE)


def test_the_sloppy_stand_in_breaks_more_often_and_both_are_built_by_name():
    prompt = [{"role": "user", "content": f"Current program (sum_radii = 2.54):\n```python\n{SOURCE}\n```\nImprove."}]
    failures = {}
    for name in ("random-edits", "sloppy-edits"):
        provider = build_provider(parse_model_spec(f"scripted:{name}"))
        assert provider.name == f"scripted:{name}"
        failed = 0
        for seed in range(40):
            reply = asyncio.run(provider.generate(prompt, seed=seed))
            try:
                apply_reply(SOURCE, reply.text)
            except Exception:  # noqa: BLE001 - an EditError of any kind counts as a broken reply
                failed += 1
        failures[name] = failed
    assert failures["random-edits"] <= 2 < failures["sloppy-edits"], failures
    again = asyncio.run(build_provider(parse_model_spec("scripted:random-edits")).generate(prompt, seed=3))
    first = asyncio.run(build_provider(parse_model_spec("scripted:random-edits")).generate(prompt, seed=3))
    assert again.text == first.text  # seeded: a benchmark run reproduces
