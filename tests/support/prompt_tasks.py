"""A tiny real prompt task folder and a scripted task model that answers it deterministically.

The task: double the number in "n=7". The scripted task model doubles it only when the prompt says "double"
(and gets odd numbers right only when it also says "carefully"); it refuses when the prompt says "refuse",
mumbles when it says "mumble", and otherwise repeats the number. So prompts have predictable scores:
"Repeat" 0, "Double" 0.5 on the dev split below, "Double ... carefully" 1.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

DEV = [{"id": f"d{i}", "input": f"n={i}", "target": str(2 * i)} for i in range(1, 9)]
TEST = [{"id": f"t{i}", "input": f"n={100 + i}", "target": str(2 * (100 + i))} for i in range(1, 5)]
SEED = "Repeat the number.\n{input}\nAnswer:"
TASK_YAML = """\
name: doubling
kind: prompt
description: Double the number given as n=N.
seed: seed.txt
objective: accuracy
prompt:
  dev: dev.jsonl
  test: test.jsonl
  answer: {extract: number, max_tokens: 16}
  minibatch: 3
  max_prompt_tokens: 60
features: [{name: length_tokens, bins: 4, max: 60}, {name: step_by_step, bins: 2}]
"""


def make_prompt_task(root: Path, seed: str = SEED) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "task.yaml").write_text(TASK_YAML)
    (root / "seed.txt").write_text(seed)
    for name, rows in (("dev", DEV), ("test", TEST)):
        (root / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def doubler(messages: list[dict[str, str]], index: int) -> str:
    """The scripted task model (a ScriptedProvider script)."""
    content = messages[-1]["content"]
    n = int(re.search(r"n=(\d+)", content).group(1))
    lowered = content.lower()
    if "refuse" in lowered:
        return "I'm sorry, I cannot help with that."
    if "mumble" in lowered:
        return "hmm, let me see"
    if "double" in lowered:
        right = "carefully" in lowered or n % 2 == 0
        return f"The answer is {2 * n if right else 2 * n + 1}."
    return str(n)


def tagged(prompt: str) -> str:
    """An optimizer reply in the requested format."""
    return f"Here is a better prompt.\n<prompt>\n{prompt}\n</prompt>"
