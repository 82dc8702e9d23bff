"""Programs: the parent is mutated by SEARCH/REPLACE diffs, a full rewrite of its EVOLVE-BLOCKs, or line edits
under a grammar for small local models (evolve/constrained_variation.py)."""

from __future__ import annotations

from evolve.constrained_edits import ConstrainedEditError
from evolve.constrained_variation import CONSTRAINED, ConstrainedProposals
from evolve.dedupe import code_hash
from evolve.edits import EditError, apply_reply
from evolve.llm import LLMProvider
from evolve.prompting import Messages, PromptBuilder
from evolve.task import Task
from evolve.variation import Proposal, ProposalContext, VariationError


class ProgramVariation:
    """Mutation prompts (prompts/mutation.j2, prompts/constrained.j2) and edits (evolve/edits.py,
    evolve/constrained_edits.py); duplicates by normalized AST."""

    def __init__(self, task: Task, edit_mode: str) -> None:
        self.prompts = PromptBuilder(task)
        self.language = task.spec.language
        self.edit_mode = edit_mode
        self.constrained = ConstrainedProposals(self.prompts)

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
                return self.constrained.propose(ctx)
            except ConstrainedEditError:  # a parent with nothing to edit line by line: ask for a rewrite
                mode = "rewrite"
        # context_tokens is already the prompt budget (the window minus the room kept for the reply).
        messages = self.prompts.mutation(ctx.sample, mode, ctx.feedback, ctx.provider.context_tokens,
                                         ctx.provider.count_tokens, ctx.guidance)
        return Proposal(ctx.sample.parent, ctx.sample.inspirations, messages, mode)

    def apply(self, proposal: Proposal, reply: str) -> tuple[str, str]:
        try:
            if proposal.operator in ConstrainedProposals.OPERATORS:
                return self.constrained.apply(proposal, reply)
            edit = apply_reply(proposal.parent.source, reply, mode="auto", language=self.language)
        except EditError as exc:
            raise VariationError(str(exc)) from None
        return edit.source, edit.kind

    def repair(self, proposal: Proposal, messages: Messages, reply: str, error: str) -> Messages:
        if proposal.operator in ConstrainedProposals.OPERATORS:
            return self.constrained.repair(proposal, messages, reply, error)
        return self.prompts.repair(messages, reply, error, proposal.operator)

    def fingerprint(self, source: str) -> str:
        return code_hash(source, self.language)
