"""How a child is made, whatever its kind: the contract between the loop and a kind's variation operators.

The controller runs one loop for every kind of candidate: it draws a parent from the archive, asks a
`Variation` for a `Proposal` (the messages for the model, the parents they show), sends them to the model,
and asks the variation to turn the reply into the child's text. Programs are mutated by diffs or rewrites
(evolve/program_variation.py); prompts by EvoPrompt, OPRO and reflective operators (evolve/prompt_variation.py).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Protocol

from evolve.archive import Sample
from evolve.candidate import Candidate
from evolve.llm import LLMProvider

Messages = list[dict[str, str]]


@dataclass
class ProposalContext:
    """What the archive and the loop offer one proposal."""

    sample: Sample  # the parent and inspirations the archive drew for this island
    elites: list[Candidate]  # the island's population (one elite per filled cell), best first
    feedback: str | None  # why this island's last child failed, if it did
    provider: LLMProvider  # the model that will be asked (its name, context budget, token counter)
    rng: random.Random
    index: int  # the proposal's number in the run; the first ones may build the initial population
    guidance: str | None = None  # the run's meta-guidance notes (evolve/meta_guidance.py), if any yet


@dataclass
class Proposal:
    """One request to the model and where its child comes from."""

    parent: Candidate
    others: list[Candidate]  # the other candidates the messages show (inspirations, co-parents, history)
    messages: Messages
    operator: str  # stored as the child's edit_kind unless applying the reply names the edit better
    baseline: Candidate | None = None  # the child must beat it on a minibatch to be fully scored (None: no gate)
    params: dict[str, Any] = field(default_factory=dict)  # generation settings for this request (a reply cap)


class VariationError(Exception):
    """A reply that cannot become a child; `str(error)` says why: it is shown to the model and stored."""


class Variation(Protocol):
    def propose(self, ctx: ProposalContext) -> Proposal: ...

    def apply(self, proposal: Proposal, reply: str) -> tuple[str, str]:
        """The child's text and edit kind; raises VariationError."""
        ...

    def repair(self, proposal: Proposal, messages: Messages, reply: str, error: str) -> Messages:
        """A follow-up turn that shows the model why its reply could not be used."""
        ...

    def fingerprint(self, source: str) -> str:
        """Equal for texts that are the same candidate (what duplicate detection compares)."""
        ...
