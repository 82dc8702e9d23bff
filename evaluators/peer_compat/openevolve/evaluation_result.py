"""`EvaluationResult`: what an OpenEvolve evaluator may return instead of a plain dict of metrics.

Metrics are numbers the engine ranks by; artifacts (text or bytes: stderr, profiles, notes) are fed back to
the model in the next prompt. Same fields and methods as OpenEvolve's class, so evaluators written for it
run unmodified; Evolve's harness reads `.metrics` and `.artifacts` from whatever object comes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class EvaluationResult:
    metrics: dict[str, float]
    artifacts: dict[str, str | bytes] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, metrics: dict[str, float]) -> EvaluationResult:
        """Wrap a plain metrics dict (no artifacts)."""
        return cls(metrics=metrics)

    def to_dict(self) -> dict[str, float]:
        """The metrics alone (the same dict object, as evaluators that mutate it expect)."""
        return self.metrics

    def has_artifacts(self) -> bool:
        return bool(self.artifacts)

    def get_artifact_keys(self) -> list[str]:
        return list(self.artifacts)

    def get_artifact_size(self, key: str) -> int:
        """Bytes of one artifact (text counted as UTF-8); 0 for an unknown key."""
        if key not in self.artifacts:
            return 0
        value = self.artifacts[key]
        if isinstance(value, bytes):
            return len(value)
        return len(str(value).encode("utf-8"))

    def get_total_artifact_size(self) -> int:
        return sum(self.get_artifact_size(key) for key in self.artifacts)
