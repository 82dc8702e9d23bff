"""Which model writes the next child: the configured weights, or a bandit that learns which model improves
candidates, and at what price.

A pull is one child; its reward is how much it improved on its parent (in fitness units, negative clipped to
0: a child worse than its parent, or one that failed, taught the search nothing useful but costs no more than
a pull). Clipping is the "asymmetric" part of ShinkaEvolve's UCB: models are compared on the gains they
produce, not punished for the exploration every model does. Means are scaled by the largest single gain seen
so far, so the exploration bonus has the same meaning on any task's score scale.

Everything a policy knows is rebuilt from stored candidates (model, score, parent_id, cost_usd), in the order
they were stored, so a resumed run continues with the same statistics and `evolve status` shows the same
figures without a table of its own.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from evolve.candidate import Candidate
from evolve.llm import LLMEnsemble, LLMProvider

MODEL_SELECTIONS = ("fixed", "ucb", "thompson")


@dataclass
class ArmStats:
    """One model's record in this run."""

    name: str
    pulls: int = 0  # stored children it wrote
    pending: int = 0  # proposals it is writing now (counted as pulls by the bandit, so concurrency spreads)
    improved: int = 0  # children that beat their parent
    gain: float = 0.0  # sum of the children's improvements over their parents (fitness units, >= 0)
    best_gain: float = 0.0
    cost_usd: float = 0.0

    @property
    def mean_gain(self) -> float:
        return self.gain / self.pulls if self.pulls else 0.0

    @property
    def mean_cost(self) -> float:
        return self.cost_usd / self.pulls if self.pulls else 0.0


class ModelLedger:
    """Per-model statistics from a stream of candidates in store order (seeds included: they score parents)."""

    def __init__(self, names: Iterable[str], maximize: bool) -> None:
        self.arms: dict[str, ArmStats] = {name: ArmStats(name) for name in names}
        self.maximize = maximize
        self._fitness: dict[str, float] = {}  # candidate id -> fitness, for the parents of later children

    def observe(self, cand: Candidate) -> ArmStats | None:
        """Record a stored candidate; returns the arm it counted for (None for seeds and migrants)."""
        if cand.status == "ok" and cand.score is not None:
            self._fitness[cand.id] = cand.fitness(self.maximize)
        if cand.model is None or cand.parent_id is None:
            return None
        arm = self.arms.get(cand.model)
        if arm is None:  # a model of an earlier session of this run, since removed from the ensemble
            arm = self.arms[cand.model] = ArmStats(cand.model)
        gain = self.gain_of(cand)
        arm.pulls += 1
        arm.cost_usd += cand.cost_usd
        arm.gain += gain
        arm.best_gain = max(arm.best_gain, gain)
        arm.improved += gain > 0
        return arm

    def gain_of(self, child: Candidate) -> float:
        """The child's improvement over its parent; 0 for a failed child or a twin (its score is borrowed)."""
        parent = self._fitness.get(child.parent_id or "")
        if child.status != "ok" or child.score is None or child.duplicate_of or parent is None:
            return 0.0
        return max(0.0, child.fitness(self.maximize) - parent)


class Bandit(Protocol):
    """Chooses an arm index from the arms' statistics."""

    def choose(self, arms: list[ArmStats], rng: random.Random) -> int: ...


@dataclass
class AsymmetricUCB:
    """UCB1 over clipped, scaled gains, blended with cheapness; epsilon spreads some pulls to the runners-up."""

    exploration: float = 1.0
    epsilon: float = 0.1
    cost_weight: float = 0.3

    def choose(self, arms: list[ArmStats], rng: random.Random) -> int:
        unseen = [i for i, a in enumerate(arms) if a.pulls + a.pending == 0]
        if unseen:
            return rng.choice(unseen)
        scale = max((a.best_gain for a in arms), default=0.0) or 1.0
        total = sum(a.pulls + a.pending for a in arms)
        log_t = 2.0 * math.log(max(total, 2))
        ucb = [a.mean_gain / scale + self.exploration * math.sqrt(log_t / (a.pulls + a.pending)) for a in arms]
        scores = _blend_cost(ucb, arms, self.cost_weight)
        top = max(scores)
        winners = [i for i, s in enumerate(scores) if s == top]
        others = [i for i in range(len(arms)) if i not in winners]
        if others and rng.random() < self.epsilon:
            return rng.choice(others)
        return rng.choice(winners)


@dataclass
class ThompsonSampling:
    """A Beta posterior over each model's chance to improve on its parent, sampled per proposal."""

    cost_weight: float = 0.3

    def choose(self, arms: list[ArmStats], rng: random.Random) -> int:
        draws = [rng.betavariate(1 + a.improved, 1 + a.pulls + a.pending - a.improved) for a in arms]
        scores = _blend_cost(draws, arms, self.cost_weight)
        return max(range(len(arms)), key=lambda i: scores[i])


def _blend_cost(scores: list[float], arms: list[ArmStats], weight: float) -> list[float]:
    """(1 - weight) * score + weight * cheapness, where the cheapest model (per child) has cheapness 1.

    Models with no observed cost yet, or runs where every model is free, keep their scores: there is no price
    to trade against."""
    costs = [a.mean_cost for a in arms]
    if weight <= 0 or any(a.pulls == 0 for a in arms) or max(costs) <= 0:
        return scores
    cheapest = min(costs)
    return [(1 - weight) * s + weight * (cheapest / c if c > 0 else 1.0) for s, c in zip(scores, costs, strict=True)]


class ModelSelector:
    """What the loop asks for a model per proposal and tells about every stored candidate."""

    def __init__(self, ensemble: LLMEnsemble, policy: str, bandit: Bandit | None, maximize: bool) -> None:
        self.ensemble, self.policy, self.bandit = ensemble, policy, bandit
        self.ledger = ModelLedger((p.name for p in ensemble.providers), maximize)
        self._pending: dict[int, str] = {}

    @classmethod
    def from_settings(cls, ensemble: LLMEnsemble, policy: str, *, exploration: float, epsilon: float,
                      cost_weight: float, maximize: bool) -> tuple[ModelSelector, str | None]:
        """The selector, and a note when the requested bandit cannot work (one model: it falls back to fixed)."""
        if policy == "fixed":
            return cls(ensemble, "fixed", None, maximize), None
        names = {p.name for p in ensemble.providers}
        if len(names) < 2:
            return cls(ensemble, "fixed", None, maximize), (
                f"model selection '{policy}' needs two or more models; this run has one "
                f"({', '.join(sorted(names))}), so every proposal uses it (as with 'fixed')")
        bandit: Bandit = (AsymmetricUCB(exploration, epsilon, cost_weight) if policy == "ucb"
                          else ThompsonSampling(cost_weight))
        return cls(ensemble, policy, bandit, maximize), None

    def pick(self, rng: random.Random, proposal: int) -> LLMProvider:
        """The model for one proposal; with a bandit it counts as pending until `observe` gets its child."""
        if self.bandit is None:
            return self.ensemble.pick(rng)
        providers = self.ensemble.providers
        arms = [self.ledger.arms[p.name] for p in providers]
        provider = providers[self.bandit.choose(arms, rng)]
        self.ledger.arms[provider.name].pending += 1
        self._pending[proposal] = provider.name
        return provider

    def release(self, proposal: int) -> None:
        """The proposal ended (stored or not): it no longer counts as pending."""
        name = self._pending.pop(proposal, None)
        if name is not None:
            self.ledger.arms[name].pending -= 1

    def observe(self, cand: Candidate) -> None:
        self.ledger.observe(cand)


def model_stats(candidates: Iterable[Candidate], maximize: bool) -> list[ArmStats]:
    """Each model's pulls, gains and cost in a stored run (for `evolve status`), most pulls first."""
    ledger = ModelLedger((), maximize)
    for cand in candidates:
        ledger.observe(cand)
    return sorted(ledger.arms.values(), key=lambda a: (-a.pulls, a.name))
