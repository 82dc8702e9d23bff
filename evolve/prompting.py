"""Render the messages the engine sends, from the Jinja2 templates in `prompts/`, within the model's context."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jinja2

from evolve.archive import Sample
from evolve.resources import resource_dir
from evolve.task import Task

Messages = list[dict[str, str]]
_NOTE_CHARS = 600  # evaluator notes shown per prompt; small models have little context to spare


class PromptBuilder:
    """Builds mutation and repair prompts for one task; drops inspirations, then notes, to fit a token budget."""

    def __init__(self, task: Task, templates: Path | None = None) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates or resource_dir("prompts"))),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
        )
        self.task = task
        self.common = {
            "language": task.spec.language,
            "objective": task.spec.objective,
            "direction": task.spec.direction,
            "has_blocks": "EVOLVE-BLOCK-START" in task.seed_source,
        }
        self.system = self.env.get_template("system.j2").render(
            description=task.spec.description or f"improve the program's {task.spec.objective}",
            system_message=task.spec.system_message, **self.common,
        ).strip()

    def mutation(self, sample: Sample, mode: str, feedback: str | None, budget: int,
                 count_tokens: Callable[[str], int]) -> Messages:
        """The richest prompt that fits `budget` tokens (falls back to the barest one, which the model may reject)."""
        parent = sample.parent
        notes = _notes(parent.artifacts)
        attempts = [(sample.inspirations[:k], notes) for k in range(len(sample.inspirations), -1, -1)]
        attempts.append(([], ""))
        system_tokens = count_tokens(self.system)
        user = ""
        for inspirations, parent_notes in attempts:
            user = self.env.get_template("mutation.j2").render(
                parent=parent, inspirations=inspirations, metrics=parent.metrics, parent_notes=parent_notes,
                feedback=feedback, mode=mode, **self.common,
            ).strip()
            if system_tokens + count_tokens(user) <= budget:
                break
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]

    def repair(self, messages: Messages, reply: str, error: str, mode: str) -> Messages:
        """A follow-up turn that shows the model why its reply could not be applied."""
        follow_up = self.env.get_template("repair.j2").render(error=error, mode=mode, **self.common).strip()
        return [*messages, {"role": "assistant", "content": reply}, {"role": "user", "content": follow_up}]


def _notes(artifacts: dict[str, str]) -> str:
    """Evaluator notes worth showing the model (errors, stderr), cut to a few hundred characters."""
    text = "\n".join(f"{k}: {v.strip()}" for k, v in artifacts.items() if v and v.strip())
    return text[-_NOTE_CHARS:]
