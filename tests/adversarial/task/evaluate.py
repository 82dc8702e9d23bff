"""Scores 1.0 only for the secret answer, which lives beside this file (out of the candidate's sight)."""

from pathlib import Path

ANSWER = int((Path(__file__).parent / "answer.txt").read_text())


def probes():
    """The engine sends these first (functional hashing), from its own process: hostile replies reach it."""
    return [["run", []]]


def evaluate(candidate):
    value = candidate.call("run")
    right = type(value) is int and value == ANSWER
    return {"score": 1.0 if right else 0.0}
