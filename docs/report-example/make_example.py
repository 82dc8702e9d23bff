"""Make the example report kept in this folder with the commands a user runs: a sweep, `evolve batch run`,
`evolve report`.

The task is the coordinate form of circle packing that benchmarks/search_quality.py uses (the built-in evaluator,
a seed whose 26 centres are written out as numbers, scoring 2.0450); the two configurations are its two stand-in
proposers (`scripted:random-edits` changes numbers of the parent, `scripted:sloppy-edits` breaks more often), 3
seeds, 40 children each. Stand-ins need no model download and make the example reproducible; they ignore
prompts, so the figures show how the report compares configurations, not what a language model finds.

    python docs/report-example/make_example.py --out /tmp/report-example

then the PNGs of /tmp/report-example/report/figures/ are what this folder keeps.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

SWEEP = """name: stand-in-proposers
tasks: [circle_packing_coordinates]
models: [scripted:random-edits, scripted:sloppy-edits]
settings: {iterations: 40, eval_concurrency: 1, llm_concurrency: 1}
seeds: 3
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="A new folder for the task, the store and the report.")
    out = parser.parse_args().out
    out.mkdir(parents=True)
    from search_quality import make_task  # benchmarks/: the coordinate seed

    make_task(out)
    (out / "sweep.yaml").write_text(SWEEP)
    storage = f"sqlite:///{out / 'evolve.db'}"
    evolve = [sys.executable, "-m", "evolve"]
    subprocess.run([*evolve, "batch", "run", str(out / "sweep.yaml"), "--storage", storage, "-q"], check=True)
    subprocess.run([*evolve, "report", "stand-in-proposers", "--out", str(out / "report"), "--storage", storage],
                   check=True)


if __name__ == "__main__":
    main()
