"""EvalResult: what an evaluation tells the engine about a candidate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

TwinLookup = Callable[[str], "str | None"]  # behaviour hash -> id of a known candidate that behaves the same


@dataclass
class EvalResult:
    """Status, float metrics and text artifacts (fed back to the LLM) of one evaluation, with its resource use."""

    status: str  # ok | invalid | timeout | crashed | sandbox-violation | skipped
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    reason: str | None = None
    stage: int = 0  # last cascade stage run (0 = the full evaluate)
    returncode: int | None = None  # of the evaluation process; None when it was killed
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_mem_mb: float = 0.0
    behaviour_hash: str | None = None  # hash of the candidate's answers to the task's probes (functional hashing)
    twin_of: str | None = None  # a known candidate that behaves the same: this one was not evaluated
