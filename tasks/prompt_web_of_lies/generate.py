"""Generate this task's dev and test splits: "web of lies" questions, as BIG-Bench Hard defines the task.

Seeded and self-contained: `python generate.py` rewrites data/dev.jsonl and data/test.jsonl byte for byte.
The first person either tells the truth or lies; each next person says whether the previous one tells the
truth; the question asks about the last person. Answering takes one step of reasoning per person (3 to 5
people here), which is what makes it a multi-step reasoning task.
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

SEED = 20240502
SIZES = {"dev": 40, "test": 40}
NAMES = ["Amara", "Bruno", "Chiara", "Dmitri", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kofi",
         "Lena", "Mateo", "Noor", "Oskar", "Priya", "Quinn", "Rosa", "Sven", "Tala", "Umar", "Vera", "Wen",
         "Ximena", "Yusuf", "Zora"]


def question(rng: random.Random, people: int) -> tuple[str, bool]:
    """The question's text and whether its last person tells the truth."""
    names = rng.sample(NAMES, people)
    truthful = rng.random() < 0.5
    sentences = [f"{names[0]} {'tells the truth' if truthful else 'lies'}."]
    for prev, name in itertools.pairwise(names):
        claims_truth = rng.random() < 0.5
        sentences.append(f"{name} says {prev} {'tells the truth' if claims_truth else 'lies'}.")
        truthful = claims_truth == truthful  # a claim is true exactly when it matches what prev does
    return f"Question: {' '.join(sentences)} Does {names[-1]} tell the truth?", truthful


def split(rng: random.Random, size: int, seen: set[str], name: str) -> list[dict[str, str]]:
    wanted = [True, False] * (size // 2)
    rng.shuffle(wanted)
    rows: list[dict[str, str]] = []
    for truth in wanted:
        while True:
            text, answer = question(rng, rng.choice([3, 4, 5]))
            if answer == truth and text not in seen:
                break
        seen.add(text)
        rows.append({"id": f"{name}-{len(rows) + 1}", "input": text, "target": "Yes" if truth else "No"})
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
