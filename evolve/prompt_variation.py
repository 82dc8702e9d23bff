"""Prompts: children are written by the optimizer model through prompt-optimization operators.

Each operator picks its parents from the island's population and fills its meta-prompt (prompts/prompt_*.j2):
- paraphrase: the initial population, the seed prompts reworded (the first `paraphrases` proposals);
- ga (EvoPrompt GA): two parents drawn by roulette wheel on their scores, crossed over then mutated;
- de (EvoPrompt DE): the parts where two random prompts differ are mutated, combined with the best prompt, and
  crossed over with the base prompt (the archive's parent);
- opro (OPRO): the top prompts with their scores in ascending order, plus a few dev examples, and a request
  for a prompt that beats them all;
- reflect (after GEPA): the dev examples the parent got wrong, with its outputs, and a request for a fix.
A run mixes them by weight (run setting `operators`); an operator that lacks what it needs (GA needs two
prompts, DE three, reflect a failure to show) gives way to the others. Every child except a paraphrase must
beat its parent on a minibatch before it is scored on the whole dev split (evaluators/prompt.py).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from evaluators.prompt import failures
from evolve.candidate import Candidate
from evolve.examples import Example
from evolve.prompt_reply import extract_prompt, prompt_fingerprint
from evolve.prompting import Messages, MetaPromptBuilder
from evolve.task import Task
from evolve.variation import Proposal, ProposalContext

_HISTORY = 8  # prompts shown to OPRO
_REPLY_TOKENS_PER_PROMPT_TOKEN = 3  # replies may hold a few drafts (GA and DE write each step) before the prompt
_WHY = {"wrong": "the answer {answer} is wrong", "unparsable": "no answer could be read from the output",
        "refused": "the model refused to answer", "empty": "the output was empty"}


@dataclass
class Pick:
    """An operator's choice: the parent (the child's lineage and cascade baseline), the others shown, and the
    template's variables."""

    parent: Candidate
    others: list[Candidate]
    context: dict[str, Any]


class PromptVariation:
    """Chooses an operator per proposal and turns the optimizer's reply into a child prompt."""

    def __init__(self, task: Task, operators: dict[str, float], paraphrases: int) -> None:
        assert task.spec.prompt is not None, "prompt variation is for prompt tasks"
        self.spec = task.spec.prompt
        self.meta = MetaPromptBuilder(task)
        self.dev: dict[str, Example] = {ex.id: ex for ex in task.dev}
        self.weights = {name: w for name, w in operators.items() if w > 0}
        self.paraphrases = paraphrases
        self.maximize = task.spec.direction == "maximize"
        self._picks: dict[str, Callable[[ProposalContext], Pick | None]] = {
            "paraphrase": self._paraphrase, "ga": self._ga, "de": self._de, "opro": self._opro,
            "reflect": self._reflect,
        }

    def propose(self, ctx: ProposalContext) -> Proposal:
        operator, pick = self._choose(ctx)
        messages = self.meta.operator(operator, pick.context, ctx.provider.context_tokens, ctx.provider.count_tokens)
        return Proposal(pick.parent, pick.others, messages, operator,
                        baseline=None if operator == "paraphrase" else pick.parent,
                        params={"max_tokens": _REPLY_TOKENS_PER_PROMPT_TOKEN * self.spec.max_prompt_tokens})

    def apply(self, proposal: Proposal, reply: str) -> tuple[str, str]:
        return extract_prompt(reply, self.spec.placeholder, self.spec.max_prompt_tokens), proposal.operator

    def repair(self, proposal: Proposal, messages: Messages, reply: str, error: str) -> Messages:
        return self.meta.repair(messages, reply, error)

    def fingerprint(self, source: str) -> str:
        return prompt_fingerprint(source)

    # ---- operator choice ----------------------------------------------------------------------------------------
    def _choose(self, ctx: ProposalContext) -> tuple[str, Pick]:
        """Paraphrases first (the initial population), then operators by weight among those that can run."""
        if ctx.index >= self.paraphrases:
            weights = dict(self.weights)
            while weights:
                names = list(weights)
                name = ctx.rng.choices(names, weights=[weights[n] for n in names])[0]
                pick = self._picks[name](ctx)
                if pick is not None:
                    return name, pick
                del weights[name]
        pick = self._paraphrase(ctx)
        assert pick is not None
        return "paraphrase", pick

    def _paraphrase(self, ctx: ProposalContext) -> Pick | None:
        parent = ctx.sample.parent
        return Pick(parent, [], {"prompt": parent.source})

    def _ga(self, ctx: ProposalContext) -> Pick | None:
        """Roulette wheel: each elite is drawn with probability in proportion to its (shifted) score."""
        if len(ctx.elites) < 2:
            return None
        fitness = [c.fitness(self.maximize) for c in ctx.elites]
        low = min(fitness)
        weights = [f - low + 0.05 * (max(fitness) - low) + 1e-6 for f in fitness]
        first = ctx.rng.choices(range(len(ctx.elites)), weights=weights)[0]
        rest = [i for i in range(len(ctx.elites)) if i != first]
        second = ctx.rng.choices(rest, weights=[weights[i] for i in rest])[0]
        a, b = ctx.elites[first], ctx.elites[second]
        parent, other = (a, b) if a.fitness(self.maximize) >= b.fitness(self.maximize) else (b, a)
        return Pick(parent, [other], {"first": a.source, "second": b.source})

    def _de(self, ctx: ProposalContext) -> Pick | None:
        base, best = ctx.sample.parent, ctx.elites[0] if ctx.elites else None
        donors = [c for c in ctx.elites if c.id not in (base.id, best.id if best else "")]
        if best is None or len(donors) < 2:
            return None
        d1, d2 = ctx.rng.sample(donors, 2)
        return Pick(base, [d1, d2, best], {"base": base.source, "donor1": d1.source, "donor2": d2.source,
                                           "best": best.source})

    def _opro(self, ctx: ProposalContext) -> Pick | None:
        if not ctx.elites:
            return None
        top = ctx.elites[:_HISTORY]
        history = [{"source": c.source, "score": round(100 * (c.score or 0.0))} for c in reversed(top)]
        return Pick(top[0], top[1:], {"history": history, "examples": self._examples(ctx.rng)})

    def _reflect(self, ctx: ProposalContext) -> Pick | None:
        parent = ctx.sample.parent
        wrong = [f for f in failures(parent.artifacts) if f.get("id") in self.dev]
        if not wrong:
            return None
        shown = ctx.rng.sample(wrong, min(len(wrong), max(1, self.spec.examples_shown)))
        return Pick(parent, [], {"prompt": parent.source, "failures": [self._failure(f) for f in shown]})

    def _failure(self, record: dict[str, Any]) -> dict[str, Any]:
        note = str(record.get("note", ""))
        why = _WHY.get(note, note).format(answer=record.get("answer"))
        return {"input": self.dev[str(record["id"])].input, "output": record.get("output") or "",
                "target": record.get("target"), "why": why}

    def _examples(self, rng: random.Random) -> list[dict[str, str]]:
        shown = rng.sample(list(self.dev.values()), min(self.spec.examples_shown, len(self.dev)))
        return [{"input": ex.input, "target": ex.target} for ex in shown]
