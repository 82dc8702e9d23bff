"""The run settings that shape the search, turned into the policy objects the loop asks: parent selection,
model selection, novelty rejection and meta-guidance. One place builds them, so the controller only calls
them; each lives in its own module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from evolve.config import RunConfig
from evolve.llm import LLMEnsemble
from evolve.meta_guidance import MetaGuidance
from evolve.model_selection import ModelSelector
from evolve.selection import ParentSelection, make_parent_selection
from evolve.store import Store
from evolve.task import Task

if TYPE_CHECKING:
    from evolve.novelty import NoveltyFilter


@dataclass
class SearchPolicies:
    selection: ParentSelection
    models: ModelSelector
    novelty: NoveltyFilter | None
    guidance: MetaGuidance | None
    notes: list[str] = field(default_factory=list)  # fallbacks taken while setting up, for the run's record


def build_search_policies(config: RunConfig, ensemble: LLMEnsemble, task: Task, store: Store,
                          run_id: str) -> SearchPolicies:
    """The policies of one run; a resumed run's meta-guidance starts from its latest stored notes."""
    maximize = task.spec.direction == "maximize"
    selection = make_parent_selection(config.parent_selection, exploitation=config.exploitation,
                                      elite_pool=config.elite_pool, sharpness=config.selection_sharpness,
                                      alpha=config.power_law_alpha)
    models, note = ModelSelector.from_settings(ensemble, config.model_selection,
                                               exploration=config.bandit_exploration, epsilon=config.bandit_epsilon,
                                               cost_weight=config.bandit_cost_weight, maximize=maximize)
    novelty = None
    if config.novelty:  # numpy and an embedder load only for a run that asks for novelty
        from evolve.llm.embeddings import build_embedder
        from evolve.novelty import NoveltyFilter

        novelty = NoveltyFilter(build_embedder(config.novelty_embedder), config.novelty_threshold,
                                judge=config.novelty_judge)
    guidance = None
    notes = [note] if note else []
    if config.meta_interval and task.spec.kind == "prompt":
        notes.append("meta-guidance is for program and kernel runs; prompt runs already show the scored "
                     "history to the model (OPRO), so meta_interval is ignored here")
    elif config.meta_interval:
        guidance = MetaGuidance(task, config.meta_interval, config.meta_window, store.get_candidate)
        if (latest := store.latest_call(run_id, "meta")) is not None:
            guidance.accept(latest["reply"])
    return SearchPolicies(selection, models, novelty, guidance, notes)
