"""Kernel tasks through the kernel harness: speed-ups of each task's seed (and of a best candidate) against
PyTorch eager and torch.compile with their spread, timing stability over repeated measurements, and the
harness' overhead.

Usage: python benchmarks/kernel_harness.py [--tasks kernel_bias_gelu,...] [--best benchmarks/kernels]
                                           [--repeat 10] [--no-compile] [--json results.json]
Each evaluation runs in a fresh process (`python -m evaluators.kernel`), as in a run. `--best DIR` also
measures DIR/<task>.py (the hand-tuned kernels in benchmarks/kernels, or an evolved best). `--repeat N`
measures each program N times; the CV of its runtime medians is the timing stability (target below 2%).

Without a CUDA device it runs the correctness checks on the CPU (Triton's interpreter, small shapes), reports
the harness' overhead, and says that timings need a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TASKS = ROOT / "tasks"


def has_cuda() -> bool:
    """Asked in a child process, so this one never initialises CUDA or imports torch."""
    probe = subprocess.run([sys.executable, "-c", "import torch; print(torch.cuda.is_available())"],
                           check=False, capture_output=True, text=True)
    return probe.stdout.strip() == "True"


def evaluate(task: Path, program: Path, cuda: bool, cache: Path,
             compile_baseline: bool) -> tuple[dict, float]:
    """One fresh-process evaluation: its result and the process' wall time."""
    argv = [sys.executable, "-m", "evaluators.kernel", str(task), str(program), "--cache-dir", str(cache)]
    if not compile_baseline:
        argv.append("--no-compile")
    if not cuda:
        argv += ["--device", "cpu", "--checks-only"]
    env = {**os.environ, **({} if cuda else {"TRITON_INTERPRET": "1"})}
    start = time.perf_counter()
    done = subprocess.run(argv, check=False, capture_output=True, text=True, cwd=ROOT, env=env)
    wall = time.perf_counter() - start
    try:
        return json.loads(done.stdout), wall
    except ValueError:
        return {"error": f"no result (exit {done.returncode}): {done.stderr.strip()[-300:]}"}, wall


def summarize(results: list[tuple[dict, float]]) -> dict:
    """Medians over the repeats, and the CV of the runtime medians (the timing stability)."""
    ok = [r for r, _ in results if "error" not in r]
    summary: dict = {"runs": len(results), "correct": len(ok),
                     "wall_s": statistics.median(w for _, w in results)}
    if len(ok) < len(results):
        summary["error"] = next(r["error"] for r, _ in results if "error" in r)[:160]
    for key in ("speedup", "speedup_spread", "speedup_vs_compile", "speedup_vs_compile_spread", "runtime_us",
                "runtime_spread", "eager_us", "compile_us", "physics_floor_us", "harness_s", "timing_s"):
        values = [r[key] for r in ok if key in r]
        if values:
            summary[key] = statistics.median(values)
    runtimes = [r["runtime_us"] for r in ok if "runtime_us" in r]
    if len(runtimes) > 1:
        summary["runtime_cv_over_repeats"] = statistics.pstdev(runtimes) / statistics.fmean(runtimes)
    return summary


def row(task: str, label: str, s: dict, cuda: bool) -> str:
    """Overhead: the process' wall time beyond the timed trials (start-up, imports, compiles, checks), and the
    part of it inside the harness (checks, guards, torch.compile of the reference)."""
    overhead = s["wall_s"] - s.get("timing_s", 0.0)
    inside = s.get("harness_s", 0.0) - s.get("timing_s", 0.0)
    cost = f"overhead {overhead:5.1f} s/candidate (in harness {inside:4.1f} s)"
    if not cuda or "speedup" not in s:
        verdict = "ok" if s["correct"] == s["runs"] else f"FAILED: {s.get('error', '')}"
        return f"{task:26} {label:6} checks {verdict:44} {cost}"
    vs_compile = (f"{s['speedup_vs_compile']:5.2f}x ±{s.get('speedup_vs_compile_spread', 0):.0%}"
                  if "speedup_vs_compile" in s else "  n/a      ")
    stability = f"{s['runtime_cv_over_repeats']:.2%}" if "runtime_cv_over_repeats" in s else "-"
    return (f"{task:26} {label:6} {s['speedup']:6.2f}x ±{s.get('speedup_spread', 0):4.0%}  "
            f"vs compile {vs_compile}  {s['runtime_us']:9.1f} us (eager {s['eager_us']:9.1f}, "
            f"floor {s.get('physics_floor_us', 0):7.1f})  "
            f"CV {stability:>6}  {cost}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", help="comma-separated task names (default: every kernel_* task)")
    parser.add_argument("--best", type=Path, help="folder holding <task>.py best candidates")
    parser.add_argument("--repeat", type=int, default=1, help="fresh-process measurements per program")
    parser.add_argument("--json", type=Path, help="write every summary here")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile baseline (faster)")
    args = parser.parse_args()
    names = args.tasks.split(",") if args.tasks else sorted(p.name for p in TASKS.glob("kernel_*"))
    cuda = has_cuda()
    if not cuda:
        print("No CUDA device: correctness checks on the CPU (Triton interpreter, small shapes) and the "
              "harness' overhead only. Speed-ups and timing stability need an NVIDIA GPU "
              "(see benchmarks/README.md).")
    report = {}
    cache = Path(os.environ.get("TMPDIR", "/tmp")) / "evolve-kernel-bench-cache"
    for name in names:
        programs = [("seed", TASKS / name / "initial_program.py")]
        if args.best is not None and (args.best / f"{name}.py").is_file():
            programs.append(("best", args.best / f"{name}.py"))
        for label, program in programs:
            results = [evaluate(TASKS / name, program, cuda, cache / f"{name}-{label}-{i}",
                                not args.no_compile) for i in range(args.repeat)]
            report[f"{name}/{label}"] = summary = summarize(results)
            print(row(name, label, summary, cuda), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"cuda": cuda, "results": report}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
