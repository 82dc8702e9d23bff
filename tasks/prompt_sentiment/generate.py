"""Generate this task's dev and test splits: short product reviews labelled positive or negative.

Seeded and self-contained: `python generate.py` rewrites data/dev.jsonl and data/test.jsonl byte for byte.
Reviews mix plain statements, negated praise ("not reliable" is negative) and contrasts where the closing
verdict decides ("the screen is dull, but I am glad I bought it" is positive), so that a prompt which makes
the model read the whole review scores better than one that reacts to the first adjective.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20240501
SIZES = {"dev": 40, "test": 40}
ASPECTS = ["battery", "screen", "keyboard", "delivery", "customer service", "sound", "camera", "price",
           "build quality", "charger", "manual", "fan", "display", "strap", "case"]
PRAISE = ["excellent", "great", "wonderful", "reliable", "superb", "impressive", "solid", "outstanding",
          "sturdy", "fantastic"]
CRITICISM = ["terrible", "awful", "disappointing", "poor", "unreliable", "flimsy", "horrible", "useless",
             "noisy", "broken"]
GLAD = ["I am glad I bought it", "I would recommend it to a friend", "it was worth every penny",
        "I am very happy with it", "I would buy it again"]
SORRY = ["I regret buying it", "I would not recommend it", "I am sending it back", "it was a waste of money",
         "I would never buy it again"]


def review(rng: random.Random, positive: bool) -> str:
    aspect, other = rng.sample(ASPECTS, 2)
    good, bad = rng.choice(PRAISE), rng.choice(CRITICISM)
    style = rng.choice(["plain", "plain", "negated", "contrast", "contrast"])
    if style == "plain":
        adj, adj2 = (good, rng.choice(PRAISE)) if positive else (bad, rng.choice(CRITICISM))
        return f"The {aspect} is {adj} and the {other} is {adj2}."
    if style == "negated":  # negated praise is criticism; a positive review here praises with a double negative
        if positive:
            return f"The {aspect} is {good}, and the {other} is not {bad} at all."
        return f"The {aspect} is not {good}, and the {other} is not {rng.choice(PRAISE)} either."
    verdict = rng.choice(GLAD if positive else SORRY)
    first = bad if positive else good
    return f"The {aspect} is {first}, but overall {verdict}."


def split(rng: random.Random, size: int, seen: set[str], name: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    labels = ["positive", "negative"] * (size // 2)
    rng.shuffle(labels)
    for label in labels:
        text = review(rng, label == "positive")
        while text in seen:
            text = review(rng, label == "positive")
        seen.add(text)
        rows.append({"id": f"{name}-{len(rows) + 1}", "input": text, "target": label})
    return rows


def main() -> None:
    rng, seen = random.Random(SEED), set()
    out = Path(__file__).resolve().parent / "data"
    out.mkdir(exist_ok=True)
    for name, size in SIZES.items():
        rows = split(rng, size, seen, name)
        (out / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


if __name__ == "__main__":
    main()
