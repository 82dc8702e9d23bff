"""Classic baselines on the bin_packing and tsp_construction instances, dev and held-out test, as the task
READMEs quote them next to the published figures.

Usage: python benchmarks/task_baselines.py

Each baseline is written as a candidate program of the task and scored by the task's own evaluator in this
process (the evaluator's logic, not the sandbox, is what the figures measure); greedy edge matching for TSP is
not a next-city rule, so it is computed here directly on the evaluator's instances. Deterministic: the
instances come from each task's documented seeds.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluators.candidate_channel import InProcessCandidate  # noqa: E402

BIN_PACKING = ROOT / "tasks" / "bin_packing"
TSP = ROOT / "tasks" / "tsp_construction"
FIRST_FIT = "import numpy as np\n\ndef priority(item, bins):\n    return -np.arange(len(bins), dtype=float)\n"
WORST_FIT = ("import numpy as np\n\ndef priority(item, bins):\n    score = bins - item\n"
             "    score[-1] = -1e9 if len(bins) > 1 else 0.0\n    return score\n")


def load(task: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{task.name}_evaluate", task / "evaluate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def greedy_edge_length(coords: np.ndarray) -> float:
    """Greedy edge matching: shortest edges first, skipping any that gives a city degree 3 or closes a cycle
    early; the two open ends are joined at the end."""
    n = len(coords)
    dist = np.sqrt(((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1))
    i, j = np.triu_indices(n, 1)
    order = np.argsort(dist[i, j], kind="stable")
    degree, parent, total, edges = np.zeros(n, int), list(range(n)), 0.0, 0

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for k in order:
        a, b = int(i[k]), int(j[k])
        if degree[a] < 2 and degree[b] < 2 and root(a) != root(b):
            parent[root(a)] = root(b)
            degree[a] += 1
            degree[b] += 1
            total += dist[a, b]
            edges += 1
            if edges == n - 1:
                break
    a, b = np.flatnonzero(degree < 2)
    return float(total + dist[a, b])


def main() -> None:
    bp = load(BIN_PACKING)
    seed = (BIN_PACKING / "initial_program.py").read_text()
    print("bin_packing: mean % excess over L1 (lower is better)")
    for name, source in (("best fit", seed), ("first fit", FIRST_FIT), ("worst fit", WORST_FIT)):
        for split, benchmark in (("dev", bp.instances()), ("test", bp.test_instances())):
            m = bp.score(InProcessCandidate(source, task_dir=BIN_PACKING), benchmark)
            print(f"  {name:10s} {split:4s} all {m['excess_pct']:.3f}  weibull {m['excess_pct_weibull']:.3f}  "
                  f"or {m['excess_pct_or']:.3f}")
    tsp = load(TSP)
    nn = InProcessCandidate((TSP / "initial_program.py").read_text(), task_dir=TSP)
    print("tsp_construction: mean closed tour length (lower is better)")
    sets = {"dev TSP50": tsp.instances(), **{f"test TSP{n}": tsp.instances(tsp.TEST_SEED + n, n)
                                             for n in tsp.TEST_SIZES}}
    for label, coords in sets.items():
        nearest = tsp.measure(nn, coords)["mean_tour_length"]
        greedy = float(np.mean([greedy_edge_length(c) for c in coords]))
        print(f"  {label:11s} nearest neighbour {nearest:.3f}  greedy edge {greedy:.3f}")


if __name__ == "__main__":
    main()
