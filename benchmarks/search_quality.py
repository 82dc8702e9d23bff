"""Search quality per evaluation: each search setting on the same task, the same evaluation budget, many seeds.

No strong model is reachable here, so the proposals come from stand-ins that are honest about it
(evolve/llm/random_edits.py): `scripted:random-edits` changes a few numbers of its parent at random (its
replies always parse); `scripted:sloppy-edits` is worse (bigger changes, more dropped and swapped lines, a
share of replies cut off). What this measures is therefore the search around the model: which parent it is
given, which model is asked, which children are not worth an evaluation. The hook for a real model is
`--models`: e.g. `--models local` runs every setting with the embedded model instead (with the constrained
edits a small model needs, once they are in the engine).

The task: circle packing (26 circles, maximize the sum of radii; the built-in task's evaluator, unchanged),
started from a seed a random number-changer can work on: the built-in layout with each center moved a little
and written out as numbers, and radii that stay valid wherever the centers go (see `coordinate_seed`). It
scores 2.0450 at the start (the built-in seed: 2.5414; the best known: 2.6360); each evaluation costs a few
milliseconds, so a whole study fits a loaded 2-core machine.

Per setting: the median over seeds of the best score after `--budget` evaluations (children that reached the
evaluator; exact duplicates and novelty rejections cost none), a distribution-free 95% interval of that median
(order statistics of the binomial), and what the run spent (proposals, rejections, wall time). Runs go one at
a time with one proposal in flight, so a seed reproduces its run.

Run: python benchmarks/search_quality.py [--seeds 10] [--budget 60] [--settings NAME ...] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evolve.model_selection import model_stats  # noqa: E402
from evolve.resources import builtin_task_dirs  # noqa: E402
from evolve.runner import new_run  # noqa: E402

GOOD, SLOPPY = "scripted:random-edits", "scripted:sloppy-edits"
JITTER = 0.02  # standard deviation of the seed's offsets from the grid

#: name -> (run settings, models); "today" is Evolve's behaviour before these settings existed.
SETTINGS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "today (exploit-explore)": ({}, [GOOD]),
    "weighted": ({"parent_selection": "weighted"}, [GOOD]),
    "power-law": ({"parent_selection": "power-law"}, [GOOD]),
    "novelty on": ({"novelty": True}, [GOOD]),
    "two models, fixed 50/50": ({"model_selection": "fixed"}, [GOOD, SLOPPY]),
    "two models, ucb": ({"model_selection": "ucb"}, [GOOD, SLOPPY]),
    "two models, ucb, exploration 0.3": ({"model_selection": "ucb", "bandit_exploration": 0.3}, [GOOD, SLOPPY]),
    "two models, thompson": ({"model_selection": "thompson"}, [GOOD, SLOPPY]),
}


def coordinate_seed(builtin: Path) -> str:
    """The built-in seed's layout (a 5x5 grid plus one circle in a gap) with each center moved by a small fixed
    random offset and written out as numbers, and radii that are valid wherever the centers go: the room to
    the walls and half the distance to the nearest neighbour. (The built-in seed's greedy radii make the grid
    a strict local optimum for one-number changes, so random edits could never improve it.)"""
    jitter = random.Random(26)  # fixed: every run starts from the same seed program
    grid = [((i % 5 + 0.5) / 5, (i // 5 + 0.5) / 5) for i in range(25)] + [(0.4, 0.4)]
    rows = "\n".join(f"        [{x + jitter.gauss(0, JITTER):.3f}, {y + jitter.gauss(0, JITTER):.3f}],"
                      for x, y in grid)
    source = (builtin / "initial_program.py").read_text()
    start = source.index("def construct_packing():")
    end = source.index("# EVOLVE-BLOCK-END")
    block = (
        "def construct_packing():\n"
        '    """Return (centers, radii): a (26, 2) array of centers in [0, 1]^2 and a (26,) array of radii."""\n'
        "    centers = np.array([\n" + rows + "\n    ])\n"
        "    return centers, max_radii(centers)\n\n\n"
        "def max_radii(centers):\n"
        '    """Each circle gets the room to the walls and half the distance to its nearest neighbour."""\n'
        "    x, y = centers[:, 0], centers[:, 1]\n"
        "    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])\n"
        "    np.fill_diagonal(d, np.inf)\n"
        "    return np.clip(np.minimum(np.minimum.reduce([x, y, 1 - x, 1 - y]), d.min(axis=1) / 2), 0.0, None)\n"
    )
    return source[:start] + block + source[end:]


def make_task(root: Path) -> Path:
    builtin = builtin_task_dirs()["circle_packing"]
    task = root / "circle_packing_coordinates"
    task.mkdir()
    shutil.copy(builtin / "evaluate.py", task / "evaluate.py")
    spec = (builtin / "task.yaml").read_text().replace("name: circle_packing", "name: circle_packing_coordinates")
    (task / "task.yaml").write_text(spec)
    (task / "initial_program.py").write_text(coordinate_seed(builtin))
    return task


@dataclass
class Outcome:
    best: float
    proposals: int
    evaluations: int
    rejected: dict[str, int]
    wall_s: float
    pulls: dict[str, int]


def run_one(task: Path, storage: str, settings: dict[str, Any], models: list[str], seed: int,
            budget: int) -> Outcome:
    overrides = {
        **settings, "seed": seed, "max_evaluations": budget, "iterations": budget * 4,
        "llm_concurrency": 1, "eval_concurrency": 1,
        "models": [{"provider": m.partition(":")[0], "name": m.partition(":")[2]} if m.startswith("scripted:")
                   else _spec(m) for m in models],
    }
    prepared = new_run(task, storage, overrides)
    start = time.perf_counter()
    if asyncio.run(prepared.controller.run()) == "interrupted":  # Ctrl-C or SIGTERM: stop the study, not one run
        raise SystemExit("search_quality: interrupted")
    wall = time.perf_counter() - start
    stats = prepared.controller.stats
    arms = model_stats(prepared.store.iter_candidates(prepared.run_id), maximize=True)
    prepared.store.close()
    return Outcome(stats.best_score or 0.0, stats.completed, stats.evaluations,
                   {k: v for k, v in stats.by_status.items() if k.startswith("rejected") or k == "invalid"}, wall,
                   {a.name: a.pulls for a in arms})


def _spec(text: str) -> dict[str, Any]:
    from evolve.llm import parse_model_spec

    return parse_model_spec(text).model_dump()


def median_interval(values: list[float], level: float = 0.95) -> tuple[float, float]:
    """Distribution-free interval for the median: order statistics (k, n-k+1) of the sorted values, with k the
    largest index whose binomial tail leaves at least `level` coverage (n=10: 2nd and 9th, 97.9%)."""
    xs, n = sorted(values), len(values)
    k = 0
    for j in range(1, n // 2 + 1):
        tail = sum(math.comb(n, i) for i in range(j)) / 2 ** n
        if 1 - 2 * tail >= level:
            k = j
    return (xs[k - 1], xs[n - k]) if k else (xs[0], xs[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=60, help="evaluations per run")
    parser.add_argument("--settings", nargs="*", default=list(SETTINGS), help=f"of: {', '.join(SETTINGS)}")
    parser.add_argument("--models", nargs="*", help="replace the stand-ins in every setting (e.g. local)")
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    args = parser.parse_args()
    unknown = [s for s in args.settings if s not in SETTINGS]
    if unknown:
        parser.error(f"unknown setting(s) {unknown}; known: {list(SETTINGS)}")
    results: dict[str, list[Outcome]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        task = make_task(Path(tmp))
        storage = f"sqlite:///{Path(tmp) / 'search_quality.db'}"
        for name in args.settings:
            settings, models = SETTINGS[name]
            if args.models:
                models = args.models
            results[name] = []
            for seed in range(args.seeds):
                results[name].append(run_one(task, storage, settings, models, seed, args.budget))
                print(f"  {name} seed {seed}: best {results[name][-1].best:.5f}", file=sys.stderr, flush=True)
    report(results, args)
    if args.json:
        args.json.write_text(json.dumps({k: [o.__dict__ for o in v] for k, v in results.items()}, indent=1))


def report(results: dict[str, list[Outcome]], args: argparse.Namespace) -> None:
    print(f"\ncircle packing from a coordinate seed (2.04501), {args.budget} evaluations per run, "
          f"{args.seeds} seeds\n")
    print("| setting | median best | 95% interval | mean best | proposals/run | rejected (dup/novelty/invalid)/run "
          "| pulls of the better model | s/run |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, runs in results.items():
        bests = [o.best for o in runs]
        lo, hi = median_interval(bests)
        n = len(runs)
        rej = {k: sum(o.rejected.get(k, 0) for o in runs) / n
               for k in ("rejected-duplicate", "rejected-novelty", "invalid")}
        pulls = sum(o.pulls.get(GOOD, 0) for o in runs)
        total = sum(sum(o.pulls.values()) for o in runs)
        share = f"{pulls / total:.0%}" if len(runs[0].pulls) > 1 and total else "-"
        print(f"| {name} | {statistics.median(bests):.5f} | {lo:.5f} - {hi:.5f} | {statistics.fmean(bests):.5f} "
              f"| {statistics.fmean(o.proposals for o in runs):.1f} "
              f"| {rej['rejected-duplicate']:.1f} / {rej['rejected-novelty']:.1f} / {rej['invalid']:.1f} "
              f"| {share} | {statistics.fmean(o.wall_s for o in runs):.1f} |")


if __name__ == "__main__":
    main()
