"""Programs: the parent is mutated by SEARCH/REPLACE diffs or a full rewrite of its EVOLVE-BLOCKs."""

from __future__ import annotations

from evolve.dedupe import code_hash
from evolve.edits import EditError, apply_reply
from evolve.prompting import Messages, PromptBuilder
from evolve.task import Task
from evolve.variation import Proposal, ProposalContext, VariationError


class ProgramVariation:
    """Mutation prompts (prompts/mutation.j2) and edits (evolve/edits.py); duplicates by normalized AST."""

    def __init__(self, task: Task, edit_mode: str) -> None:
        self.prompts = PromptBuilder(task)
        self.language = task.spec.language
        self.edit_mode = edit_mode

    def propose(self, ctx: ProposalContext) -> Proposal:
        # auto: small local models get whole-program rewrites right far more often than diffs
        mode = self.edit_mode if self.edit_mode != "auto" else (
            "rewrite" if ctx.provider.name.startswith("local") else "diff")
        # context_tokens is already the prompt budget (the window minus the room kept for the reply).
        messages = self.prompts.mutation(ctx.sample, mode, ctx.feedback, ctx.provider.context_tokens,
                                         ctx.provider.count_tokens, ctx.guidance)
        return Proposal(ctx.sample.parent, ctx.sample.inspirations, messages, mode)

    def apply(self, proposal: Proposal, reply: str) -> tuple[str, str]:
        try:
            edit = apply_reply(proposal.parent.source, reply, mode="auto", language=self.language)
        except EditError as exc:
            raise VariationError(str(exc)) from None
        return edit.source, edit.kind

    def repair(self, proposal: Proposal, messages: Messages, reply: str, error: str) -> Messages:
        return self.prompts.repair(messages, reply, error, proposal.operator)

    def fingerprint(self, source: str) -> str:
        return code_hash(source, self.language)
