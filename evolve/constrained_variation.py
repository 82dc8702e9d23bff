"""Constrained line-edit proposals for one run: which lines to offer each proposal, and what a parent's
children already tried (evolve/constrained_edits.py builds the grammar and applies the reply).

Why a memory: a small model that is offered every line picks the first one, and the same number for it,
again and again (measured: 8 of 11 children of one parent were the same edit of its first line), and each
duplicate is a wasted proposal. So a proposal offers the lines this parent's children changed least, and the
grammar leaves out the values they already gave each number. The memory lives in the process: a resumed run
starts it afresh, and the controller's hash check still catches a duplicate.
"""

from __future__ import annotations

import collections

from evolve.constrained_edits import EditMenu
from evolve.prompting import Messages, PromptBuilder
from evolve.variation import Proposal, ProposalContext

CONSTRAINED = "constrained"
CONSTRAINED_LINE = "constrained+line"  # the proposal's operator when new lines are offered too
#: Share of proposals that may also write a new line instead of changing numbers. Number changes always
#: parse; new lines are where a model can bring an idea, but the embedded 135M model's new lines almost
#: never parse (measured: 1 of 10 parsed, none evaluated ok), so most proposals keep to numbers.
NEW_LINE_SHARE = 0.1
#: Lines a proposal offers: the model picks among them.
OFFERED_LINES = 3


class ConstrainedProposals:
    """Makes constrained proposals and applies their replies, remembering per parent what was tried."""

    OPERATORS = (CONSTRAINED, CONSTRAINED_LINE)

    def __init__(self, prompts: PromptBuilder) -> None:
        self.prompts = prompts
        self._lines: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
        self._values: dict[str, dict[tuple[int, int], set[str]]] = collections.defaultdict(
            lambda: collections.defaultdict(set))

    def propose(self, ctx: ProposalContext) -> Proposal:
        """Raises ConstrainedEditError when the parent has nothing to edit line by line."""
        parent = ctx.sample.parent
        menu = EditMenu(parent.source, new_lines=ctx.rng.random() < NEW_LINE_SHARE,
                        tried=self._values.get(parent.id))
        tried = self._lines[parent.id]
        # least tried first, ties in random order: the prompt names them so, and a small model takes the
        # first line it is given
        lines = sorted(menu.lines, key=lambda n: (tried[n], ctx.rng.random()))[:OFFERED_LINES]
        menu = menu.offering(lines)
        messages = self.prompts.constrained(ctx.sample, menu.listing(), ctx.feedback, menu.new_lines, lines)
        params: dict[str, object] = {"max_tokens": menu.max_reply_tokens()}
        if getattr(ctx.provider, "accepts_grammar", False):
            params["grammar"] = menu.grammar()
        return Proposal(parent, [], messages, CONSTRAINED_LINE if menu.new_lines else CONSTRAINED, params=params)

    def apply(self, proposal: Proposal, reply: str) -> tuple[str, str]:
        """The child and its edit kind; raises ConstrainedEditError."""
        menu = EditMenu(proposal.parent.source, new_lines=proposal.operator == CONSTRAINED_LINE)
        child, kind = menu.apply(reply)
        lines, values = menu.changed(child)
        self._lines[proposal.parent.id].update(lines)
        for key, value in values.items():
            self._values[proposal.parent.id][key].add(value)
        return child, kind

    def repair(self, proposal: Proposal, messages: Messages, reply: str, error: str) -> Messages:
        return self.prompts.repair(messages, reply, error, CONSTRAINED,
                                   new_lines=proposal.operator == CONSTRAINED_LINE)
