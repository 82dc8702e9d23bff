"""Make the example report kept in this folder: circle_packing, 2 configurations x 3 seeds, a few iterations each.

The runs are real (the real task, evaluator, sandbox and SQLite store); the "model" is a scripted proposer, so the
example needs no model download and reproduces exactly: it reads the current program from the prompt, nudges the
positions of the circles by Gaussian steps (a `SHIFT` table it adds to the program) and replies with the whole
program. The two configurations are two step sizes, tagged as a sweep over models would tag them
(params {"task", "model", "seed"}, one cell per model) in a batch row written here by hand.

    PYTHONPATH=. python docs/report-example/make_example.py --out /tmp/report-example [--iterations 8]

then the PNGs of /tmp/report-example/figures/ are what this folder keeps.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import re
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, update

from evolve.llm import LLMEnsemble, ScriptedProvider
from evolve.llm.scripted import echo_last_code_block
from evolve.report.build import write_report
from evolve.runner import new_run
from evolve.store import Store, batches, runs

_SHIFT = re.compile(r"SHIFT = np\.array\((\[.*?\])\)", re.S)
_ANCHOR = "    return centers, max_radii(centers)"


def jitter_proposer(step: float, seed: int):
    """A scripted model: the current program with its circles moved by N(0, step) on a third of the coordinates."""

    def reply(messages: list[dict[str, str]], index: int) -> str:
        block = echo_last_code_block(messages, index)
        program = block.split("\n", 1)[1].rsplit("```", 1)[0]
        rng = random.Random(f"{seed}:{index}")
        found = _SHIFT.search(program)
        shift = json.loads(found.group(1)) if found else [0.0] * 52
        shift = [round(v + rng.gauss(0.0, step), 4) if rng.random() < 0.33 else v for v in shift]
        line = f"SHIFT = np.array({json.dumps(shift)})"
        if found:
            program = program[:found.start()] + line + program[found.end():]
        else:
            program = program.replace(_ANCHOR, f"    {line}\n    centers = np.clip(centers + SHIFT.reshape(26, 2), "
                                               f"0.0, 1.0)\n{_ANCHOR}")
        return f"Moved some circles.\n```python\n{program}```\n"

    return reply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--storage", default=None, help="default: a SQLite file in a temporary folder")
    parser.add_argument("--iterations", type=int, default=8)
    args = parser.parse_args()
    storage = args.storage or f"sqlite:///{tempfile.mkdtemp(prefix='evolve-example-')}/example.db"
    store = Store(storage)
    batch_id, now = "example" + hashlib.sha256(str(time.time()).encode()).hexdigest()[:8], time.time()
    with store.engine.begin() as conn:
        conn.execute(insert(batches).values(id=batch_id, name="circle-packing-steps", sweep={}, sweep_path="(by hand)",
                                            settings={}, status="finished", created_at=now, updated_at=now))
    for name, step in (("scripted:steps-0.02", 0.02), ("scripted:steps-0.005", 0.005)):
        for seed in (1, 2, 3):
            model = ScriptedProvider(jitter_proposer(step, seed), name=name.split(":")[1])
            prepared = new_run("circle_packing", storage, {"iterations": args.iterations, "seed": seed,
                                                           "edit_mode": "rewrite", "llm_concurrency": 1,
                                                           "eval_concurrency": 1},
                               ensemble=LLMEnsemble([(model, 1.0)]))
            params = {"task": "circle_packing", "model": name, "seed": seed}
            cell = hashlib.sha256(json.dumps({k: v for k, v in params.items() if k != "seed"},
                                             sort_keys=True).encode()).hexdigest()[:16]
            with store.engine.begin() as conn:
                conn.execute(update(runs).where(runs.c.id == prepared.run_id)
                             .values(batch_id=batch_id, params=params, cell=cell))
            reason = asyncio.run(prepared.controller.run())
            print(f"{name} seed {seed}: {reason}, best {prepared.controller.stats.best_score}")
            prepared.store.close()
    files = write_report(store, [batch_id], args.out)
    print(f"storage {storage}\nreport {files.page}")


if __name__ == "__main__":
    main()
