"""Generate this task's dev and test splits: grade-school arithmetic word problems in the style of GSM8K.

Seeded and self-contained: `python generate.py` rewrites data/dev.jsonl and data/test.jsonl byte for byte.
Each problem takes two or three operations (+, -, x, /) on small whole numbers, worded as a short story;
the target is the whole-number answer.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

SEED = 20240503
SIZES = {"dev": 40, "test": 40}
PEOPLE = [("Maya", "she", "her"), ("Leo", "he", "his"), ("Aisha", "she", "her"), ("Tomas", "he", "his"),
          ("Nina", "she", "her"), ("Omar", "he", "his"), ("Julia", "she", "her"), ("Ravi", "he", "his")]
THINGS = ["apples", "stickers", "marbles", "pencils", "cookies", "stamps", "shells", "cards"]

Problem = tuple[str, int]


def packs(rng: random.Random, who: str, she: str, his: str, things: str) -> Problem:
    a, b, c = rng.randint(3, 30), rng.randint(2, 6), rng.randint(3, 12)
    text = (f"{who} has {a} {things}. {she.capitalize()} buys {b} packs with {c} {things} in each pack. "
            f"How many {things} does {who} have now?")
    return text, a + b * c


def give_and_buy(rng: random.Random, who: str, she: str, his: str, things: str) -> Problem:
    a, b, c = rng.randint(20, 60), rng.randint(2, 19), rng.randint(2, 25)
    text = (f"{who} had {a} {things}. {she.capitalize()} gave {b} of them to a friend and then bought {c} more. "
            f"How many {things} does {who} have now?")
    return text, a - b + c


def change(rng: random.Random, who: str, she: str, his: str, things: str) -> Problem:
    price, count = rng.randint(2, 9), rng.randint(2, 8)
    bill = next(b for b in (20, 50, 100) if b > price * count)
    text = (f"At a market, {things} cost ${price} each. {who} buys {count} {things} and pays with a ${bill} bill. "
            f"How many dollars of change does {she} get?")
    return text, bill - price * count


def reading(rng: random.Random, who: str, she: str, his: str, things: str) -> Problem:
    pages, weeks = rng.randint(5, 25), rng.randint(2, 4)
    return (f"{who} reads {pages} pages every day. How many pages does {she} read in {weeks} weeks?",
            pages * 7 * weeks)


def seats(rng: random.Random, who: str, she: str, his: str, things: str) -> Problem:
    rows, per_row = rng.randint(4, 12), rng.randint(5, 15)
    taken = rng.randint(1, rows * per_row - 1)
    text = (f"A hall has {rows} rows of chairs with {per_row} chairs in each row. {taken} chairs are taken. "
            f"How many chairs are free?")
    return text, rows * per_row - taken


def wages(rng: random.Random, who: str, she: str, his: str, things: str) -> Problem:
    rate, hours, days = rng.randint(8, 20), rng.randint(2, 8), rng.randint(2, 6)
    text = (f"{who} earns ${rate} per hour. {she.capitalize()} works {hours} hours a day for {days} days. "
            f"How many dollars does {she} earn in total?")
    return text, rate * hours * days


def sharing(rng: random.Random, who: str, she: str, his: str, things: str) -> Problem:
    friends, each, kept = rng.randint(2, 8), rng.randint(2, 9), rng.randint(1, 9)
    text = (f"{who} has {friends * each + kept} {things}. {she.capitalize()} keeps {kept} and "
            f"shares the rest equally among {friends} friends. How many {things} does each friend get?")
    return text, each


def ages(rng: random.Random, who: str, she: str, his: str, things: str) -> Problem:
    age, older, years = rng.randint(6, 14), rng.randint(2, 9), rng.randint(2, 10)
    text = (f"{who} is {age} years old. {his.capitalize()} cousin is {older} years older than {who}. "
            f"How old will the cousin be in {years} years?")
    return text, age + older + years


TEMPLATES: list[Callable[..., Problem]] = [packs, give_and_buy, change, reading, seats, wages, sharing, ages]


def split(rng: random.Random, size: int, seen: set[str], name: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    while len(rows) < size:
        template = TEMPLATES[len(rows) % len(TEMPLATES)]
        text, answer = template(rng, *rng.choice(PEOPLE), rng.choice(THINGS))
        if text not in seen:
            seen.add(text)
            rows.append({"id": f"{name}-{len(rows) + 1}", "input": text, "target": str(answer)})
    rng.shuffle(rows)
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
