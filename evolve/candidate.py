"""The Candidate record: one program (or prompt, or kernel) with how it was made and how it scored."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Literal

Status = Literal["ok", "invalid", "timeout", "crashed", "rejected-duplicate", "sandbox-violation", "skipped",
                 "rejected-novelty"]
# skipped: the evaluation could not run on this machine (e.g. a kernel task without a CUDA device)
# rejected-novelty: too close to a known candidate by embedding (evolve/novelty.py); never evaluated
STATUSES: tuple[str, ...] = ("ok", "invalid", "timeout", "crashed", "rejected-duplicate", "sandbox-violation",
                             "skipped", "rejected-novelty")


def new_id() -> str:
    """Short, sortable-enough unique ids that read well in a terminal."""
    return uuid.uuid4().hex[:12]


@dataclass
class Candidate:
    """Everything stored about one candidate (see DESIGN.md section 3)."""

    run_id: str
    source: str
    kind: str = "program"
    id: str = field(default_factory=new_id)
    island: int = 0
    parent_id: str | None = None
    inspiration_ids: list[str] = field(default_factory=list)
    generation: int = 0
    edit_kind: str = "seed"  # seed | diff | rewrite | migrant
    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    status: Status = "ok"
    reason: str | None = None
    score: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    features: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    code_hash: str = ""
    duplicate_of: str | None = None  # same code, (with a behaviour_hash) same behaviour, or too close to, this one
    behaviour_hash: str | None = None
    eval_stage: int = 0
    eval_wall_s: float = 0.0
    eval_cpu_s: float = 0.0
    peak_mem_mb: float = 0.0
    llm_s: float = 0.0
    created_at: float = field(default_factory=time.time)
    seq: int = 0  # completion order within the run, assigned by the store

    def fitness(self, maximize: bool) -> float:
        """The score as a quantity where higher is better, for a task that maximizes or minimizes."""
        assert self.score is not None, "only a scored candidate has a fitness"
        return self.score if maximize else -self.score
