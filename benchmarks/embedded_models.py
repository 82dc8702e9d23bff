"""Which small local model makes the better constrained edits: valid children, gains over the seed, time per reply.

Each model gets the same proposals: the task's seed as the parent, the constrained line-edit prompt and
grammar that `evolve run` uses for local models (evolve/program_variation.py), one reply per proposal with its
own sampling seed; each child is scored by the task's real evaluator in the sandbox. Reported per model: replies
that applied, children that evaluated ok ("valid"), children above the seed, the best score, and seconds per
reply (the first reply, which reads the whole prompt, apart from the rest, which reuse its cached prefix).

    python benchmarks/embedded_models.py                                   # the installed embedded models
    python benchmarks/embedded_models.py --model local:/path/to/other.gguf --proposals 30

Timings depend on what else runs on the machine: the script prints the load average beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time

from evaluators.program import ProgramEvaluator
from evolve.archive import Sample
from evolve.candidate import Candidate
from evolve.llm import build_provider, parse_model_spec
from evolve.llm.local import EMBEDDED_MODELS, LocalModelUnavailable
from evolve.program_variation import ProgramVariation
from evolve.task import load_task
from evolve.variation import ProposalContext, VariationError
from sandbox import get_sandbox


def installed_models() -> list[str]:
    specs = []
    for model in EMBEDDED_MODELS:
        try:
            build_provider(parse_model_spec(f"local:{model.key}"))
        except (LocalModelUnavailable, ValueError, FileNotFoundError):
            continue
        specs.append(f"local:{model.key}")
    return specs


async def measure(spec: str, task_ref: str, proposals: int, seed: int) -> dict[str, object]:
    task = load_task(task_ref)
    evaluator = ProgramEvaluator.for_task(task, get_sandbox("auto"))
    seed_result = evaluator.evaluate(task.seed_source)
    seed_score = seed_result.metrics[task.spec.objective]
    parent = Candidate(run_id="bench", source=task.seed_source, kind="program", score=seed_score,
                       metrics=seed_result.metrics)
    provider = build_provider(parse_model_spec(spec))
    variation = ProgramVariation(task, "constrained")
    times, applied, valid, better, scores = [], 0, 0, 0, []
    for i in range(proposals):
        rng = random.Random(f"{seed}:{i}")
        plan = variation.propose(ProposalContext(Sample(parent, [], "exploit"), [parent], None, provider, rng, i))
        start = time.perf_counter()
        reply = await provider.generate(plan.messages, seed=rng.randrange(2**31), timeout_s=900, **plan.params)
        times.append(time.perf_counter() - start)
        try:
            child, _kind = variation.apply(plan, reply.text)
        except VariationError:
            continue
        applied += 1
        result = evaluator.evaluate(child)
        if result.status == "ok" and task.spec.objective in result.metrics:
            valid += 1
            score = result.metrics[task.spec.objective]
            scores.append(score)
            better += task.better(score, seed_score)
    return {
        "model": provider.name, "proposals": proposals, "applied": applied, "valid": valid, "better": better,
        "best": max(scores, default=None), "seed": seed_score, "first_s": times[0],
        "median_s": statistics.median(times[1:]) if len(times) > 1 else times[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", help="a local model spec (repeatable); default: installed")
    parser.add_argument("--task", default="circle_packing")
    parser.add_argument("--proposals", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    specs = args.model or installed_models()
    print(f"task {args.task}, {args.proposals} proposals per model, load average {os.getloadavg()[0]:.1f}")
    print(f"{'model':<28} {'applied':>8} {'valid':>6} {'> seed':>7} {'best':>8} {'1st s':>7} {'median s':>9}")
    for spec in specs:
        r = asyncio.run(measure(spec, args.task, args.proposals, args.seed))
        best = "n/a" if r["best"] is None else f"{r['best']:.4f}"
        print(f"{r['model']:<28} {r['applied']:>8} {r['valid']:>6} {r['better']:>7} {best:>8} "
              f"{r['first_s']:>7.1f} {r['median_s']:>9.2f}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
