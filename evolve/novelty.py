"""Novelty rejection: a child whose code embeds too close to a candidate already in the run is stored as
`rejected-novelty` and never evaluated (after ShinkaEvolve's novelty filter).

Where it sits: after the exact check (normalized-AST hash, free) and before the sandbox, which runs the
functional probes and then the evaluation. A near-copy is thus caught without any sandbox run; a child that
behaves like a known one but reads differently still meets the functional check in the evaluator.

What is compared: the EVOLVE-BLOCK regions of programs (the rest is the same in every candidate and would
only pull similarities up), or the whole text of a prompt. Optionally a model is then asked whether a child
above the threshold is still a meaningful change (prompts/novelty.j2); it answers NOVEL or SIMILAR.

An embedder that cannot load or be reached turns the filter off for the rest of the session with a note the
run records: a novelty check is an economy, never a reason to stop a run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

from evolve.candidate import Candidate
from evolve.edits import EditError, find_blocks
from evolve.llm.embeddings import Embedder, EmbeddingUnavailable
from evolve.prompting import Messages, render_novelty_question

#: A model call made for the child being checked: messages -> the reply's text (None when the call failed).
Ask = Callable[[Messages], Awaitable[str | None]]

#: Statuses of candidates that never reached the evaluator: they are not what a child must differ from.
_NOT_EVALUATED = ("invalid", "rejected-duplicate", "rejected-novelty")


@dataclass
class Verdict:
    novel: bool
    similarity: float
    nearest_id: str | None
    reason: str = ""


def comparable_text(source: str, kind: str) -> str:
    """The part of a candidate that evolution changes: the EVOLVE-BLOCK contents, else the whole text."""
    if kind == "prompt":
        return source
    try:
        spans = find_blocks(source)
    except EditError:
        spans = []
    if not spans:
        return source
    lines = source.splitlines()
    return "\n".join("\n".join(lines[a:b]) for a, b in spans)


class NoveltyFilter:
    """Keeps the embeddings of the run's evaluated candidates and judges each new child against them."""

    def __init__(self, embedder: Embedder, threshold: float, *, judge: bool = False) -> None:
        self.embedder, self.threshold, self.judge = embedder, threshold, judge
        self.off_reason: str | None = None  # set when the embedder failed: the filter then accepts everything
        self._pending: list[tuple[str, str]] = []  # (id, text) not embedded yet
        self._ids: list[str] = []
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        self._texts: dict[str, str] = {}

    def remember(self, cand: Candidate) -> None:
        """A stored candidate that children must differ from (seeds and evaluated children)."""
        if cand.status not in _NOT_EVALUATED and cand.id not in self._texts:
            text = comparable_text(cand.source, cand.kind)
            self._texts[cand.id] = text
            self._pending.append((cand.id, text))

    async def check(self, child: Candidate, ask: Ask | None = None) -> Verdict:
        """Novel (and now remembered) or not; embedding failures make it novel and turn the filter off."""
        if self.off_reason is not None:
            return Verdict(True, 0.0, None)
        text = comparable_text(child.source, child.kind)
        try:
            await self._embed_pending()
            [vector] = await self.embedder.embed([text])
        except EmbeddingUnavailable as exc:
            self.off_reason = f"novelty check off: embedder {self.embedder.name} unavailable ({exc})"
            return Verdict(True, 0.0, None)
        similarity, nearest = 0.0, None
        if len(self._ids):
            sims = self._vectors @ vector
            best = int(np.argmax(sims))
            similarity, nearest = float(sims[best]), self._ids[best]
        if nearest is not None and similarity >= self.threshold:
            reason = (f"too close to candidate {nearest}: embedding similarity {similarity:.4f} >= "
                      f"{self.threshold:g}")
            if not (self.judge and ask is not None and await self._judged_novel(text, nearest, ask)):
                return Verdict(False, similarity, nearest, reason)
        self._texts[child.id] = text
        self._add(child.id, vector[None, :])  # claimed now, so a near-twin in flight is caught too
        return Verdict(True, similarity, nearest)

    async def _judged_novel(self, text: str, nearest: str, ask: Ask) -> bool:
        reply = await ask(render_novelty_question(self._texts[nearest], text))
        return reply is not None and reply.strip().upper().startswith("NOVEL")

    async def _embed_pending(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []  # what arrives while this batch embeds waits for the next
        vectors = await self.embedder.embed([text for _, text in batch])
        for (cid, _), vector in zip(batch, vectors, strict=True):
            self._add(cid, vector[None, :])

    def _add(self, cid: str, rows: np.ndarray) -> None:
        self._vectors = rows if not self._ids else np.vstack([self._vectors, rows])
        self._ids.append(cid)
