"""OpenEvolve's fitness rule, in one place for new evaluations (harness.py, inside the sandbox: standard library
only) and imported checkpoints (evolve/peers/importer.py): a program is ranked by `combined_score`, else by the
mean of its finite metrics that are not MAP-Elites feature dimensions (of all finite metrics when only features
are left). Evolve records that value as the objective, so the engine ranks as OpenEvolve would.
"""

import math


def fill_fitness(metrics, objective, exclude):
    """Set metrics[objective] by the rule above unless the evaluator reported it."""
    if objective in metrics:
        return
    finite = {k: v for k, v in metrics.items() if math.isfinite(v)}
    kept = [v for k, v in finite.items() if k not in exclude] or list(finite.values())
    metrics[objective] = sum(kept) / len(kept) if kept else 0.0
