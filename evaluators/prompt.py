"""Prompt evaluation: fill the prompt with each example, ask the task model, read and score its answers.

Why no sandbox: a prompt candidate is text sent to a model, never code run here; dataset text and the model's
outputs are handled as strings only (see evaluators/answers.py).

Cost is what limits prompt optimization, so three things keep task-model calls down:
- answers are cached in the store by (model, settings, filled-in prompt): a prompt asked again is free;
- the cascade (after GEPA): a child is first scored on a small minibatch of the dev split and scored on the
  whole split only if it beats the prompt it came from on those same examples (whose answers are cached);
- calls run concurrently, at most `concurrency` at a time.

The test split is used only by `conclude`, after evolution, for the seeds and the best prompt.
Every example's outcome (correct, wrong, unparsable, refused, empty, or the task model's error) is kept in the
candidate's artifacts, so a failure on one example never stops the run and the reflective operator can show
the failures to the optimizer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import statistics
import time
from collections import Counter
from dataclasses import asdict, dataclass, fields

from evaluators.answers import Judge, Judgement
from evaluators.result import EvalResult, TwinLookup
from evolve.candidate import Candidate
from evolve.examples import Example
from evolve.llm import LLMError, LLMProvider
from evolve.store import SplitScore, Store, TaskOutput

_OUTPUT_CHARS = 300  # of each output kept in the artifacts (what the reflective operator can show)


@dataclass
class Answered:
    """One example put to the task model: its output (None when the call failed) and how it scored."""

    example: Example
    output: str | None
    judgement: Judgement

    def record(self) -> dict[str, object]:
        return {"id": self.example.id, "target": self.example.target, "answer": self.judgement.answer,
                "score": self.judgement.score, "note": self.judgement.note,
                "output": (self.output or "")[:_OUTPUT_CHARS]}


@dataclass
class Spend:
    """What scoring one candidate cost, reported in its metrics; these field names are the loop's
    SPEND_METRICS."""

    task_calls: int = 0
    cache_hits: int = 0
    task_tokens: int = 0
    task_cost_usd: float = 0.0
    examples_skipped: int = 0

    def metrics(self) -> dict[str, float]:
        return asdict(self)


SPEND_METRICS = tuple(f.name for f in fields(Spend))


class PromptEvaluator:
    """Scores prompt templates with one task model on a task's dev split; `conclude` scores on its test split."""

    def __init__(self, *, model: LLMProvider, dev: list[Example], test: list[Example], judge: Judge,
                 placeholder: str, objective: str, store: Store, model_key: str | None = None, minibatch: int = 5,
                 concurrency: int = 4, max_tokens: int = 128, temperature: float = 0.0, seed: int = 0) -> None:
        self.model, self.dev, self.test, self.judge = model, dev, test, judge
        self.placeholder, self.objective, self.store = placeholder, objective, store
        self.model_key = model_key or model.name  # names the model in cache keys (add the server where it matters)
        self.minibatch = minibatch
        self.params = {"max_tokens": max_tokens, "temperature": temperature}
        self.seed = seed
        self._slots = asyncio.Semaphore(concurrency)

    # ---- the Evaluator protocol ---------------------------------------------------------------------------------
    async def evaluate(self, source: str, baseline: Candidate | None,
                       twin_of: TwinLookup | None = None) -> EvalResult:
        """Score `source` on the dev split; with a baseline, only if it first beats the baseline on a minibatch."""
        start, spend = time.perf_counter(), Spend()
        if baseline is None:
            return self._result(await self._answer(source, self.dev, spend), spend, start)
        batch = self._minibatch(source)
        mine = await self._answer(source, batch, spend)
        theirs = await self._answer(baseline.source, batch, spend)
        ours, parents = _mean(mine), _mean(theirs)
        gate = {"minibatch_score": ours, "parent_minibatch_score": parents}
        if ours <= parents:
            spend.examples_skipped = len(self.dev) - len(batch)
            result = self._result(mine, spend, start, stage=1, extra=gate)
            if result.status == "ok":
                result.metrics.pop(self.objective)  # a minibatch score must not compete with whole-split scores
                result.reason = (f"scored {ours:.2f} on a minibatch of {len(batch)} dev examples, not above its "
                                 f"parent's {parents:.2f} on the same examples: not scored on the whole dev split")
            return result
        chosen = {ex.id for ex in batch}
        rest = await self._answer(source, [ex for ex in self.dev if ex.id not in chosen], spend)
        return self._result(mine + rest, spend, start, extra=gate)

    async def conclude(self, seeds: list[Candidate], best: Candidate) -> list[SplitScore]:
        """Dev scores (from evolution) and test scores (asked now, once per prompt) of the seeds and the best."""
        scores: list[SplitScore] = []
        tested: dict[str, float] = {}  # candidate id -> test score (the best may be a seed: asked once)
        for role, cand in [*(("seed", s) for s in seeds), ("best", best)]:
            spend = Spend()
            if cand.id not in tested:
                tested[cand.id] = _mean(await self._answer(cand.source, self.test, spend))
            scores += [SplitScore(cand.id, role, "dev", float(cand.score or 0.0), len(self.dev)),
                       SplitScore(cand.id, role, "test", tested[cand.id], len(self.test), spend.task_calls)]
        return scores

    async def aclose(self) -> None:
        close = getattr(self.model, "aclose", None)
        if close is not None:
            await close()

    # ---- answering ----------------------------------------------------------------------------------------------
    def _minibatch(self, source: str) -> list[Example]:
        """A sample of the dev split fixed by the run's seed and the prompt's text (so a rerun draws the same)."""
        digest = hashlib.sha256(source.encode()).hexdigest()
        return random.Random(f"{self.seed}:{digest}").sample(self.dev, min(self.minibatch, len(self.dev)))

    def messages(self, prompt: str, example: Example) -> list[dict[str, str]]:
        """The task model's request: the template with the example's input in place of the placeholder."""
        return [{"role": "user", "content": prompt.replace(self.placeholder, example.input)}]

    def _key(self, messages: list[dict[str, str]]) -> str:
        blob = json.dumps([self.model_key, self.params, messages], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    async def _answer(self, prompt: str, examples: list[Example], spend: Spend) -> list[Answered]:
        requests = [(ex, self.messages(prompt, ex)) for ex in examples]
        keys = [self._key(messages) for _, messages in requests]
        cached = self.store.task_outputs(keys)

        async def one(example: Example, messages: list[dict[str, str]], key: str) -> Answered:
            hit = cached.get(key)
            if hit is not None:
                spend.cache_hits += 1
                return Answered(example, hit.output, self.judge(hit.output, example))
            async with self._slots:
                spend.task_calls += 1
                try:
                    reply = await self.model.generate(messages, **self.params)
                except LLMError as exc:  # this example scores 0 with the reason; the others go on
                    return Answered(example, None, Judgement(None, 0.0, f"error: {exc}"[:300]))
            out = TaskOutput(reply.text or "", reply.usage.prompt_tokens, reply.usage.completion_tokens,
                             reply.usage.cost_usd)
            spend.task_tokens += out.prompt_tokens + out.completion_tokens
            spend.task_cost_usd += out.cost_usd
            self.store.add_task_output(key, self.model_key, out)
            return Answered(example, out.output, self.judge(out.output, example))

        return list(await asyncio.gather(*(one(ex, m, k) for (ex, m), k in zip(requests, keys, strict=True))))

    def _result(self, answered: list[Answered], spend: Spend, start: float, stage: int = 0,
                extra: dict[str, float] | None = None) -> EvalResult:
        notes = Counter(a.judgement.note.split(":")[0] for a in answered)
        summary = " · ".join(f"{note} {n}" for note, n in notes.most_common())
        artifacts = {"summary": f"{summary} (of {len(answered)} examples)",
                     "examples": json.dumps([a.record() for a in answered], ensure_ascii=False)}
        wall = time.perf_counter() - start
        if answered and notes["error"] == len(answered):
            first = answered[0].judgement.note
            return EvalResult("crashed", spend.metrics(), artifacts, stage=stage, wall_s=wall,
                              reason=f"the task model failed on every example ({first})")
        metrics = {self.objective: _mean(answered), "answered": _answered_share(answered), **(extra or {}),
                   **spend.metrics()}
        return EvalResult("ok", metrics, artifacts, stage=stage, wall_s=wall)


def _mean(answered: list[Answered]) -> float:
    return statistics.fmean(a.judgement.score for a in answered) if answered else 0.0


def _answered_share(answered: list[Answered]) -> float:
    return sum(a.judgement.answer is not None for a in answered) / len(answered) if answered else 0.0


def failures(artifacts: dict[str, str]) -> list[dict[str, object]]:
    """The examples a scored prompt got wrong (or got no answer for), from its artifacts."""
    try:
        records = json.loads(artifacts.get("examples", "[]"))
    except json.JSONDecodeError:
        return []
    return [r for r in records if isinstance(r, dict) and r.get("note") != "correct"]
