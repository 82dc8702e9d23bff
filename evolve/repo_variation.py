"""Repository tasks: program edits, plus the check that the edited functions still fit back into their files."""

from __future__ import annotations

from evolve.program_variation import ProgramVariation
from evolve.repo_task import RepoEditError, RepoTask
from evolve.variation import Proposal, VariationError


class RepoVariation(ProgramVariation):
    """A child that cannot be put back (a header line lost, a renamed function, top-level code) is refused with
    the reason, which the model sees on repair, before any evaluation is spent on it."""

    def __init__(self, task: RepoTask, edit_mode: str) -> None:
        super().__init__(task, edit_mode)  # type: ignore[arg-type]  # a RepoTask reads like a Task here
        self.task = task

    def apply(self, proposal: Proposal, reply: str) -> tuple[str, str]:
        source, kind = super().apply(proposal, reply)
        try:
            self.task.apply(source)
        except RepoEditError as exc:
            raise VariationError(str(exc)) from None
        return source, kind
