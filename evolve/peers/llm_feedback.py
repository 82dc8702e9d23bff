"""OpenEvolve's `evaluator.use_llm_feedback`: an LLM judge scores each successfully evaluated program's code, and
its scores are weighted into the metrics and the fitness, as OpenEvolve defines it:

- each numeric score s the judge returns becomes metric `llm_<name>` = s * llm_feedback_weight, and their
  mean m becomes `llm_average` = m * llm_feedback_weight;
- when the objective (combined_score) is present it becomes 0.7 * objective + 0.3 * m;
- the judge's non-numeric fields (its reasoning) become artifacts `llm_<name>`, shown in the next prompt.

The judge is one model of the run's ensemble, picked by weight (OpenEvolve asks every evaluator model and sums
their weighted scores). A judge that fails or answers without a JSON object leaves the evaluation as it was,
with the reason in the `llm_feedback_error` artifact. The judge's reply is data: only numbers are taken from it.
"""

from __future__ import annotations

import json
import math
import random
import re

from evaluators.result import EvalResult, TwinLookup
from evolve.candidate import Candidate
from evolve.llm import LLMEnsemble
from evolve.llm.types import LLMError
from evolve.store import SplitScore

_SYSTEM = "You review code. You answer with one JSON object and nothing else."
_ASK = """Rate this program from 0.0 (poor) to 1.0 (excellent) on readability, maintainability and efficiency.
Answer with a JSON object: {{"readability": R, "maintainability": M, "efficiency": E, "reasoning": "one sentence"}}

```{language}
{code}
```"""
_OBJECT = re.compile(r"\{.*\}", re.S)
_KEEP, _JUDGE = 0.7, 0.3  # OpenEvolve's blend of the objective and the judge's mean


class LLMFeedbackEvaluation:
    """Wraps a program Evaluator (evolve.evaluation.Evaluator) and adds the judge's weighted scores."""

    def __init__(self, inner, ensemble: LLMEnsemble, weight: float, objective: str, language: str,
                 seed: int = 0) -> None:
        self.inner = inner
        self.ensemble = ensemble
        self.weight = weight
        self.objective = objective
        self.language = language
        self.rng = random.Random(seed)

    async def evaluate(self, source: str, baseline: Candidate | None, twin_of: TwinLookup) -> EvalResult:
        result = await self.inner.evaluate(source, baseline, twin_of)
        if result.status != "ok" or result.twin_of is not None:
            return result
        messages = [{"role": "system", "content": _SYSTEM},
                    {"role": "user", "content": _ASK.format(language=self.language, code=source)}]
        try:
            reply = await self.ensemble.generate(messages, rng=self.rng, temperature=0.0)
            scores, notes = parse_judgement(reply.text)
        except (LLMError, ValueError) as exc:
            result.artifacts["llm_feedback_error"] = str(exc)[:300]
            return result
        apply_judgement(result.metrics, result.artifacts, scores, notes, self.weight, self.objective)
        return result

    async def conclude(self, seeds: list[Candidate], best: Candidate) -> list[SplitScore]:
        return await self.inner.conclude(seeds, best)

    async def aclose(self) -> None:
        await self.inner.aclose()


def parse_judgement(text: str) -> tuple[dict[str, float], dict[str, str]]:
    """(numeric scores, text fields) of the first-to-last brace span of the judge's reply."""
    found = _OBJECT.search(text)
    if not found:
        raise ValueError("the judge's reply holds no JSON object")
    data = json.loads(found.group(0))
    if not isinstance(data, dict):
        raise ValueError("the judge's reply is not a JSON object")
    scores = {str(k): float(v) for k, v in data.items()
              if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
    notes = {str(k): str(v)[:500] for k, v in data.items() if str(k) not in scores}
    if not scores:
        raise ValueError("the judge's reply has no numeric score")
    return scores, notes


def apply_judgement(metrics: dict[str, float], artifacts: dict[str, str], scores: dict[str, float],
                    notes: dict[str, str], weight: float, objective: str) -> None:
    """Weight the judge's scores into `metrics` (and its notes into `artifacts`) by OpenEvolve's rule."""
    for name, value in scores.items():
        metrics[f"llm_{name}"] = value * weight
    mean = sum(scores.values()) / len(scores)
    metrics["llm_average"] = mean * weight
    if objective in metrics:
        metrics[objective] = _KEEP * metrics[objective] + _JUDGE * mean
    for name, note in notes.items():
        artifacts[f"llm_{name}"] = note
