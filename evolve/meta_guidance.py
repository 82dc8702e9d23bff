"""Meta-guidance: every `interval` children a model reads the latest children (each as a diff from its parent,
with what came of it) and writes short notes on what worked and what failed; later mutation prompts show the
notes (after ShinkaEvolve's meta-recommendations).

The request and the notes are an ordinary LLM call of the run, stored with purpose "meta" (messages, reply,
tokens, cost), so a resumed run starts from the latest notes and a reader can see exactly what every prompt
was told. The notes are model-written text: they go into prompts, never into code or markup.
"""

from __future__ import annotations

import collections
import difflib
from collections.abc import Callable

from evolve.candidate import Candidate
from evolve.prompting import Messages, render_meta_request
from evolve.task import Task

_DIFF_CHARS = 1200  # per child shown: enough for a few edited lines
_NOTES_CHARS = 2000  # notes kept; a runaway reply must not crowd the program out of later prompts


class MetaGuidance:
    """Collects the latest children; says when notes are due; keeps the current notes."""

    def __init__(self, task: Task, interval: int, window: int, lookup: Callable[[str], Candidate | None],
                 max_points: int = 6) -> None:
        self.task, self.interval, self.max_points = task, interval, max_points
        self.lookup = lookup  # candidate id -> the stored candidate (the parents' side of the diffs)
        self.recent: collections.deque[Candidate] = collections.deque(maxlen=window)
        self.notes: str | None = None

    def record(self, child: Candidate) -> None:
        if child.parent_id is not None and child.edit_kind != "seed":
            self.recent.append(child)

    def due(self, completed: int) -> bool:
        """True after every `interval`-th stored child (counted over the whole run, resumes included)."""
        return bool(self.recent) and completed > 0 and completed % self.interval == 0

    def request(self) -> Messages:
        children = []
        for child in self.recent:
            parent = self.lookup(child.parent_id or "")
            children.append({"diff": _diff(parent, child), "outcome": _outcome(parent, child)})
        return render_meta_request(self.task, children, self.notes, self.max_points)

    def accept(self, reply: str) -> None:
        text = reply.strip()
        if text:
            self.notes = text[:_NOTES_CHARS]


def _diff(parent: Candidate | None, child: Candidate) -> str:
    from evolve.novelty import comparable_text  # with numpy: only runs with meta-guidance on pay for it

    old = comparable_text(parent.source if parent else "", child.kind).splitlines()
    new = comparable_text(child.source, child.kind).splitlines()
    lines = list(difflib.unified_diff(old, new, "parent", "child", n=1, lineterm=""))[2:]
    text = "\n".join(lines) or "(no textual change)"
    return text if len(text) <= _DIFF_CHARS else text[:_DIFF_CHARS] + "\n... (diff cut)"


def _outcome(parent: Candidate | None, child: Candidate) -> str:
    if child.status != "ok" or child.score is None:
        return f"{child.status}: {(child.reason or '')[:200]}"
    if parent is None or parent.score is None:
        return f"scored {child.score:.6g}"
    return f"scored {child.score:.6g} (parent {parent.score:.6g}, change {child.score - parent.score:+.6g})"
