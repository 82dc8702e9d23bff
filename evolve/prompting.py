"""Render the messages the engine sends, from the Jinja2 templates in `prompts/`, within the model's context.

Two builders share one template folder: `PromptBuilder` asks for a better program (mutation.j2, repair.j2),
`MetaPromptBuilder` asks for a better prompt (prompt_<operator>.j2: the meta-prompts of EvoPrompt, OPRO and
the reflective operator). Both fall back to leaner renderings until the messages fit the model's budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import jinja2

from evolve.archive import Sample
from evolve.constrained_edits import MAX_EDITS
from evolve.resources import resource_dir
from evolve.task import Task

Messages = list[dict[str, str]]
CountTokens = Callable[[str], int]
_NOTE_CHARS = 600  # evaluator notes shown per prompt; small models have little context to spare


def _environment(templates: Path | None) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates or resource_dir("prompts"))),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )


def _first_fitting(system: str, users: Iterable[str], budget: int, count_tokens: CountTokens) -> Messages:
    """The first (richest) user message that fits `budget` beside the system message, else the last (barest) one,
    which the model may reject."""
    system_tokens: int | None = None
    user = ""
    for user in users:
        if _surely_fits(system, user, budget):
            break
        if system_tokens is None:
            system_tokens = count_tokens(system)
        if system_tokens + count_tokens(user) <= budget:
            break
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _surely_fits(system: str, user: str, budget: int) -> bool:
    """True when the messages fit without counting: the tokenizers we count with (tiktoken, llama.cpp's) are
    byte-level, so no text makes more tokens than bytes, plus a few special tokens per message. Counting is
    the costliest step of building a prompt, and with API models' long contexts it is rarely needed."""
    return len(system.encode()) + len(user.encode()) + 16 <= budget


_PRIVATE_ARTIFACTS = frozenset({"private_metrics"})


class PromptBuilder:
    """Builds mutation and repair prompts for one program task; drops inspirations, then notes, to fit."""

    def __init__(self, task: Task, templates: Path | None = None) -> None:
        self.env = _environment(templates)
        self.task = task
        self.common = {
            "language": task.spec.language,
            "objective": task.spec.objective,
            "direction": task.spec.direction,
            "has_blocks": "EVOLVE-BLOCK-START" in task.seed_source,
            "max_edits": MAX_EDITS,
        }
        self.system = self.env.get_template("system.j2").render(
            description=task.spec.description or f"improve the program's {task.spec.objective}",
            system_message=task.spec.system_message, **self.common,
        ).strip()

    def mutation(self, sample: Sample, mode: str, feedback: str | None, budget: int,
                 count_tokens: CountTokens, guidance: str | None = None) -> Messages:
        """The richest prompt that fits `budget` tokens (falls back to the barest one, which the model may reject).
        `guidance`: the run's meta-guidance notes (evolve/meta_guidance.py), dropped last but one."""
        parent = sample.parent
        notes = _notes(parent.artifacts) if self.task.spec.show_artifacts else ""
        attempts = [(sample.inspirations[:k], notes, guidance) for k in range(len(sample.inspirations), -1, -1)]
        attempts += [([], "", guidance), ([], "", None)]
        template = self.env.get_template("mutation.j2")
        users = (template.render(parent=parent, inspirations=inspirations, metrics=parent.metrics,
                                 parent_notes=parent_notes, feedback=feedback, mode=mode, guidance=notes_shown,
                                 **self.common).strip()
                 for inspirations, parent_notes, notes_shown in attempts)
        return _first_fitting(self.system, users, budget, count_tokens)

    def constrained(self, sample: Sample, listing: str, feedback: str | None, new_lines: bool,
                    choices: list[int]) -> Messages:
        """A line-edit prompt for a reply under a grammar (evolve/constrained_edits.py): the numbered listing of
        the parent's EVOLVE-BLOCK, no inspirations (a small model gains nothing from them but prefill time)."""
        user = self.env.get_template("constrained.j2").render(
            parent=sample.parent, listing=listing, feedback=feedback, new_lines=new_lines, choices=choices,
            **self.common).strip()
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]

    def repair(self, messages: Messages, reply: str, error: str, mode: str, **extra: Any) -> Messages:
        """A follow-up turn that shows the model why its reply could not be applied; `extra` reaches the format
        template (e.g. whether constrained edits may write new lines)."""
        follow_up = self.env.get_template("repair.j2").render(error=error, mode=mode, **extra, **self.common).strip()
        return [*messages, {"role": "assistant", "content": reply}, {"role": "user", "content": follow_up}]


class MetaPromptBuilder:
    """Builds the meta-prompts that ask the optimizer model for a new prompt template (prompt tasks)."""

    def __init__(self, task: Task, templates: Path | None = None) -> None:
        assert task.spec.prompt is not None, "meta-prompts are for prompt tasks"
        self.env = _environment(templates)
        self.common = {
            "placeholder": task.spec.prompt.placeholder,
            "objective": task.spec.objective,
            "direction": task.spec.direction,
        }
        self.system = self.env.get_template("prompt_system.j2").render(
            description=task.spec.description or "answer each problem correctly",
            system_message=task.spec.system_message, **self.common,
        ).strip()

    def operator(self, name: str, context: dict[str, Any], budget: int, count_tokens: CountTokens) -> Messages:
        """Render prompts/prompt_<name>.j2; to fit the budget, lists in `context` (history, examples, failures)
        lose items from their front, where each operator puts the least useful ones."""
        template = self.env.get_template(f"prompt_{name}.j2")
        longest = max((len(v) for v in context.values() if isinstance(v, list)), default=0)
        variants = [{k: v[-keep:] if isinstance(v, list) and keep else v for k, v in context.items()}
                    for keep in range(longest, 0, -1)] or [context]
        users = (template.render(**variant, **self.common).strip() for variant in variants)
        return _first_fitting(self.system, users, budget, count_tokens)

    def repair(self, messages: Messages, reply: str, error: str) -> Messages:
        follow_up = self.env.get_template("prompt_repair.j2").render(error=error, **self.common).strip()
        return [*messages, {"role": "assistant", "content": reply}, {"role": "user", "content": follow_up}]


def _notes(artifacts: dict[str, str]) -> str:
    """Evaluator notes worth showing the model (errors, stderr), cut to a few hundred characters; never the
    metrics an evaluator keeps private (ShinkaEvolve's `private`, see evaluators/shinka_eval.py)."""
    text = "\n".join(f"{k}: {v.strip()}" for k, v in artifacts.items()
                     if v and v.strip() and k not in _PRIVATE_ARTIFACTS)
    return text[-_NOTE_CHARS:]


def render_novelty_question(nearest: str, candidate: str, templates: Path | None = None) -> Messages:
    """Ask a model whether `candidate` is meaningfully different from `nearest` (prompts/novelty.j2)."""
    text = _environment(templates).get_template("novelty.j2").render(nearest=nearest, candidate=candidate)
    return [{"role": "user", "content": text.strip()}]


def render_meta_request(task: Task, children: list[dict[str, str]], previous: str | None, max_points: int,
                        templates: Path | None = None) -> Messages:
    """Ask a model to summarize what recent children taught (prompts/meta.j2); `children` hold diff and outcome."""
    text = _environment(templates).get_template("meta.j2").render(
        description=task.spec.description or f"improve the {task.spec.objective}", objective=task.spec.objective,
        direction=task.spec.direction, children=children, previous=previous, max_points=max_points)
    return [{"role": "user", "content": text.strip()}]
