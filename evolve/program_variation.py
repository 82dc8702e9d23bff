"""Programs: the parent is mutated by SEARCH/REPLACE diffs, a full rewrite of its EVOLVE-BLOCKs, or line edits
under a grammar (evolve/constrained_edits.py) for small local models."""

from __future__ import annotations

import collections

from evolve.constrained_edits import ConstrainedEditError, EditMenu
from evolve.dedupe import code_hash
from evolve.edits import EditError, apply_reply
from evolve.llm import LLMProvider
from evolve.prompting import Messages, PromptBuilder
from evolve.task import Task
from evolve.variation import Proposal, ProposalContext, VariationError

CONSTRAINED = "constrained"
CONSTRAINED_LINE = "constrained+line"  # the proposal's operator when new lines are offered too
#: Share of constrained proposals that may also write a new line instead of changing numbers. Number changes
#: always parse; new lines are where a model can bring an idea, but the embedded 135M model's new lines
#: almost never parse (measured: 0 of 7), so most proposals keep to numbers.
NEW_LINE_SHARE = 0.1
#: Lines a constrained proposal offers, drawn at random from the editable ones: the model picks among them.
#: Offered every line, a small model picks the first or the same one every time (measured: 8 of 11
#: children of one parent were the same edit of its first line, and duplicates are wasted proposals).
OFFERED_LINES = 3


class ProgramVariation:
    """Mutation prompts (prompts/mutation.j2, prompts/constrained.j2) and edits (evolve/edits.py,
    evolve/constrained_edits.py); duplicates by normalized AST."""

    def __init__(self, task: Task, edit_mode: str) -> None:
        self.prompts = PromptBuilder(task)
        self.language = task.spec.language
        self.edit_mode = edit_mode
        # parent id -> how often a constrained child of it changed each line: lines tried least are offered
        # first, so one parent's proposals spread over its lines instead of repeating a favourite edit
        self._tried: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
        # parent id -> (line, literal index) -> values its children already gave that literal (left out of the
        # grammar next time, so the same child is not proposed twice)
        self._values: dict[str, dict[tuple[int, int], set[str]]] = collections.defaultdict(
            lambda: collections.defaultdict(set))

    def mode_for(self, provider: LLMProvider) -> str:
        """The edit mode one proposal uses. auto: constrained line edits for local models (the embedded one and
        local GGUF files), which rarely write a diff or rewrite that applies and parses; diffs for the rest.
        Line edits are for Python programs; other languages fall back to rewrites (local) or diffs."""
        local = provider.name.startswith("local")
        mode = self.edit_mode
        if mode == "auto":
            mode = CONSTRAINED if local else "diff"
        if mode == CONSTRAINED and self.language != "python":
            mode = "rewrite" if local else "diff"
        return mode

    def propose(self, ctx: ProposalContext) -> Proposal:
        mode = self.mode_for(ctx.provider)
        if mode == CONSTRAINED:
            try:
                menu = EditMenu(ctx.sample.parent.source, new_lines=ctx.rng.random() < NEW_LINE_SHARE,
                                tried=self._values.get(ctx.sample.parent.id))
            except ConstrainedEditError:  # a parent with nothing to edit line by line: ask for a rewrite
                mode = "rewrite"
            else:
                tried = self._tried[ctx.sample.parent.id]
                # least tried first, ties in random order: the prompt names them so, and a small model takes
                # the first line it is given
                lines = sorted(menu.lines, key=lambda n: (tried[n], ctx.rng.random()))[:OFFERED_LINES]
                menu = menu.offering(lines)
                messages = self.prompts.constrained(ctx.sample, menu.listing(), ctx.feedback, menu.new_lines, lines)
                params: dict[str, object] = {"max_tokens": menu.max_reply_tokens()}
                if getattr(ctx.provider, "accepts_grammar", False):
                    params["grammar"] = menu.grammar()
                operator = CONSTRAINED_LINE if menu.new_lines else CONSTRAINED
                return Proposal(ctx.sample.parent, [], messages, operator, params=params)
        # context_tokens is already the prompt budget (the window minus the room kept for the reply).
        messages = self.prompts.mutation(ctx.sample, mode, ctx.feedback, ctx.provider.context_tokens,
                                         ctx.provider.count_tokens)
        return Proposal(ctx.sample.parent, ctx.sample.inspirations, messages, mode)

    def apply(self, proposal: Proposal, reply: str) -> tuple[str, str]:
        try:
            if proposal.operator in (CONSTRAINED, CONSTRAINED_LINE):
                menu = EditMenu(proposal.parent.source, new_lines=proposal.operator == CONSTRAINED_LINE)
                child, kind = menu.apply(reply)
                lines, values = menu.changed(child)
                self._tried[proposal.parent.id].update(lines)
                for key, value in values.items():
                    self._values[proposal.parent.id][key].add(value)
                return child, kind
            edit = apply_reply(proposal.parent.source, reply, mode="auto", language=self.language)
        except EditError as exc:
            raise VariationError(str(exc)) from None
        return edit.source, edit.kind

    def repair(self, proposal: Proposal, messages: Messages, reply: str, error: str) -> Messages:
        if proposal.operator in (CONSTRAINED, CONSTRAINED_LINE):
            return self.prompts.repair(messages, reply, error, CONSTRAINED,
                                       new_lines=proposal.operator == CONSTRAINED_LINE)
        return self.prompts.repair(messages, reply, error, proposal.operator)

    def fingerprint(self, source: str) -> str:
        return code_hash(source, self.language)
