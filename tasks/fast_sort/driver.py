"""Runs in the candidate's process: lets the candidate's sort() ask the evaluator its comparisons one by one.

The values being sorted never reach this process. sort() gets opaque items (the positions 0..n-1) and a
less(a, b) that waits for the evaluator's answer, so the only way to learn the order is to ask, and the
evaluator counts every question itself. sort() runs in a thread that pauses inside less() until the next call
of answer() brings the result.
"""

from __future__ import annotations

import queue
import threading

_session: dict = {}


def start(program, n: int) -> dict:
    """Begin sorting items 0..n-1; returns the first event ({"compare": [a, b]} or {"result": order})."""
    questions: queue.Queue = queue.Queue(maxsize=1)
    answers: queue.Queue = queue.Queue(maxsize=1)

    def less(a, b) -> bool:
        questions.put(("compare", a, b))
        return answers.get()

    def run() -> None:
        try:
            questions.put(("result", program.sort(list(range(n)), less)))
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which re-raises it
            questions.put(("raised", exc))

    _session.update(questions=questions, answers=answers)
    threading.Thread(target=run, name="candidate-sort", daemon=True).start()
    return _next_event()


def answer(program, is_less: bool) -> dict:
    """The evaluator's answer to the pending comparison; returns the next event."""
    _session["answers"].put(bool(is_less))
    return _next_event()


def _next_event() -> dict:
    kind, *rest = _session["questions"].get()
    if kind == "raised":
        raise rest[0]
    if kind == "result":
        return {"result": rest[0]}
    return {"compare": [rest[0], rest[1]]}


def transcript(program, values: list) -> dict:
    """Sort `values` locally, recording the comparisons: the candidate's behaviour, for functional hashing only
    (the evaluator never scores with it, since here the values are known to the candidate)."""
    asked: list[list[int]] = []

    def less(a, b) -> bool:
        asked.append([a, b])
        return values[a] < values[b]

    return {"asked": asked, "result": program.sort(list(range(len(values))), less)}
