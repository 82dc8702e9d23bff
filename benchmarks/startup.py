"""Start-up of the `evolve` command: `evolve --help`, and from `evolve run` to the first stored child.

Usage: python benchmarks/startup.py [-n 10] [--sandbox auto] [--source DIR ...]

Each measure is the median of n runs of a fresh `python -m evolve` process. The first child is timed from the
moment the process is started to the `created_at` the store gives that child (in a new store, whose schema is
created first, and in a store that already holds runs), on a one-function toy task with the
scripted stand-in model (`scripted:random-edits`, which answers at once), so what is measured is Evolve's own
start: imports, the store, the task, the sandbox, the seed's evaluation and one child's. Several --source folders
(checkouts of Evolve) are measured interleaved, so a loaded machine slows them alike and the ratio holds.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TASK = {
    "task.yaml": "name: toy\nkind: program\nseed: program.py\nevaluator: evaluate.py\nobjective: score\n"
                 "limits: {wall_s: 10, memory_mb: 512}\n",
    "program.py": "# EVOLVE-BLOCK-START\ndef value():\n    return 1\n# EVOLVE-BLOCK-END\n",
    "evaluate.py": "def evaluate(candidate):\n    return {'score': float(candidate.call('value'))}\n",
}


def evolve(source: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    env = {**os.environ, "PYTHONPATH": str(source)}
    env = {k: v for k, v in env.items() if not k.endswith("_API_KEY")}
    start = time.time()
    proc = subprocess.run([sys.executable, "-m", "evolve", *args], capture_output=True, text=True, env=env,
                          cwd=source, timeout=300)
    if proc.returncode != 0:
        raise SystemExit(f"evolve {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return start, proc


def help_s(source: Path) -> float:
    start, _ = evolve(source, "--help")
    return time.time() - start


def first_child_s(source: Path, task: Path, db: Path, sandbox: str) -> float:
    """Seconds from starting `evolve run` to the store's timestamp of that run's first child."""
    start, _ = evolve(source, "run", str(task), "--model", "scripted:random-edits", "-n", "1", "-q",
                      "--storage", f"sqlite:///{db}", "--sandbox", sandbox, "--eval-concurrency", "1")
    with sqlite3.connect(db) as conn:
        (created,) = conn.execute("SELECT c.created_at FROM candidates c JOIN runs r ON c.run_id = r.id "
                                  "WHERE c.seq = 1 ORDER BY r.created_at DESC LIMIT 1").fetchone()
    return created - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=10)
    parser.add_argument("--sandbox", default="auto")
    parser.add_argument("--source", type=Path, action="append",
                        help="an Evolve checkout to measure (repeatable; default: this one)")
    args = parser.parse_args()
    sources = args.source or [Path(__file__).resolve().parents[1]]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        task = work / "toy"
        task.mkdir()
        for name, text in TASK.items():
            (task / name).write_text(text)
        helps: dict[Path, list[float]] = {s: [] for s in sources}
        firsts: dict[Path, list[float]] = {s: [] for s in sources}  # each run in a new store
        agains: dict[Path, list[float]] = {s: [] for s in sources}  # each run in a store that has runs
        for i in range(args.n):
            for k, source in enumerate(sources):
                helps[source].append(help_s(source))
                firsts[source].append(first_child_s(source, task, work / f"new-{k}-{i}.db", args.sandbox))
                agains[source].append(first_child_s(source, task, work / f"kept-{k}.db", args.sandbox))
    print(f"medians of {args.n} (sandbox {args.sandbox}):")
    for source in sources:
        print(f"{source}: evolve --help {statistics.median(helps[source]):.3f} s · evolve run to the first stored "
              f"child {statistics.median(firsts[source]):.3f} s in a new store, "
              f"{statistics.median(agains[source]):.3f} s in one that has runs")


if __name__ == "__main__":
    main()
