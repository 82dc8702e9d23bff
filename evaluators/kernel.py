"""Kernel tasks: check a candidate's `ModelNew` against a KernelBench problem's `Model`; guard, time, score.

Runs in one fresh process per candidate, inside the sandbox: a kernel task's evaluate.py (task.yaml
`interface: path`) calls `evaluate_kernel`, because the candidate's kernels must be timed in the process that
loads them. The order is the defence:
1. the source is screened before any of it runs (kernel_screen.py);
2. CUDA and the libraries are warmed up, then the identity of every callable the harness uses is recorded
   (kernel_guards.Snapshot) and thread starts are counted from here on (ThreadWatch);
3. the candidate is imported, and every correctness check (kernel_checks.py) runs on fresh secret-seeded
   inputs at every shape, with poisoned allocations and the op log on (kernel_oplog.py), the reference
   computed after the candidate, in float64, from a pristine copy of the inputs;
4. with a GPU: one profiled call (kernel_profile.py), then interleaved timing against eager and torch.compile,
   the wall-clock cross-check and the physics floor (kernel_timing.py, kernel_physics.py), one more check;
5. any failure scores zero with the reason as the `error` artifact; the reference never stands in for the
   candidate.

Without a CUDA device the checks run on the CPU (Triton in interpreter mode, at the task's small shapes) and
the result says `skipped: no CUDA device`. `python -m evaluators.kernel TASK_DIR [PROGRAM] [--device cpu]`
evaluates one program in a fresh process and prints the result as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from evaluators.kernel_device import HAS_CUDA  # before the imports below, which load triton

# isort: split
from evaluators import kernel_physics as physics
from evaluators.kernel_checks import as_tensors, max_error, mismatch, shares_memory, structure_problems
from evaluators.kernel_guards import Snapshot, ThreadWatch, digest
from evaluators.kernel_oplog import OpLog
from evaluators.kernel_problem import Problem, dtype_of, load_module, reference_float64
from evaluators.kernel_profile import kernels_of_one_call, library_problems, own_kernel_names
from evaluators.kernel_screen import screen
from evaluators.kernel_spec import KernelSpec, Shape
from evaluators.kernel_timing import Backend, Stats, cross_check, interleaved, ratio_stats

__all__ = ["KernelSpec", "evaluate_kernel"]

OBJECTIVE = "speedup"
_perf_counter = time.perf_counter  # bound at import, before any candidate could replace it
_TRACE = 1500  # characters of a candidate's traceback kept for the next prompt
Pair = tuple[torch.nn.Module, torch.nn.Module]  # (reference, candidate) built with the same seed


class Rejected(Exception):
    """The candidate failed a check or a guard; `reason` goes to the LLM."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason, self.detail = reason, detail


def evaluate_kernel(spec: KernelSpec, program_path: str | Path, *, device: str | None = None,
                    cache_dir: Path | None = None, timed: bool = True) -> dict[str, Any]:
    """Metrics (floats) and artifacts (strings) for one candidate file, as a task evaluator returns them.

    device None: CUDA when present, else the CPU checks and a `skipped` result. "cpu": the CPU stand-in, with
    stand-in timings (for tests and benchmarks on machines without a GPU). timed=False: the checks alone."""
    clock = _perf_counter()
    _prepare_caches(cache_dir or Path.cwd() / ".kernel_cache")
    has_cuda = HAS_CUDA
    target = device or ("cuda" if has_cuda else "cpu")
    if target == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
        raise RuntimeError("the CPU stand-in runs Triton in its interpreter: set TRITON_INTERPRET=1 in the "
                           "environment before starting Python")
    run = _Evaluation(spec, Path(program_path), target)
    try:
        result = run.execute(timed=timed and (device is not None or has_cuda))
    except Rejected as exc:
        result = run.failed(exc)
    finally:
        run.restore()
    if device is None and not has_cuda:
        result = _skipped(result)
    result["harness_s"] = _perf_counter() - clock
    return result


def _prepare_caches(root: Path) -> None:
    """A private compile cache per candidate (the sandbox's workdir is new per candidate); no compile pool."""
    for var, sub in (("TRITON_CACHE_DIR", "triton"), ("TORCHINDUCTOR_CACHE_DIR", "inductor"),
                     ("CUPY_CACHE_DIR", "cupy"), ("TORCH_EXTENSIONS_DIR", "torch_extensions"),
                     ("CUDA_CACHE_PATH", "nv")):
        path = root / sub
        path.mkdir(parents=True, exist_ok=True)
        os.environ[var] = str(path)
    os.environ["TORCHINDUCTOR_COMPILE_THREADS"] = "1"  # compile in-process: no worker pool left behind


def _skipped(result: dict[str, Any]) -> dict[str, Any]:
    """No CUDA device. A candidate that failed the CPU checks is invalid whatever the GPU would say; one that
    passed them cannot be timed here, so it is `skipped` (its own status, not the candidate's fault)."""
    if "error" in result:
        return {OBJECTIVE: 0.0, "correct": result.get("correct", 0.0),
                "error": f"the CPU checks failed (no CUDA device to time on): {result['error']}"}
    checks = f"{result.get('checks', 0):.0f} checks, Triton interpreter, small shapes"
    return {OBJECTIVE: 0.0, "correct": result.get("correct", 0.0), "skipped": "no CUDA device",
            "detail": f"timing needs an NVIDIA GPU; correctness passed on the CPU ({checks})"}


class _Evaluation:
    """One candidate, one process: the steps in the module docstring, in order."""

    def __init__(self, spec: KernelSpec, path: Path, device: str) -> None:
        self.spec, self.path, self.device = spec, path, device
        self.cuda = device.startswith("cuda")
        self.shapes: Sequence[Shape] = spec.shapes if self.cuda else (spec.cpu_shapes or spec.shapes)
        self.dtype = dtype_of(spec.dtype)
        self.snapshot: Snapshot | None = None
        self.timing_seed = secrets.randbits(31)
        self.compiled: Callable[..., Any] | None = None
        self.threads: ThreadWatch  # set by execute(), after the warm-up (whose threads are not the candidate's)
        self.checks = 0
        self.worst_error = 0.0
        self.compute: Counter[str] = Counter()
        self.notes: list[str] = []

    # ---- the steps -----------------------------------------------------------------------------------------
    def execute(self, timed: bool) -> dict[str, Any]:
        source = self.path.read_text(encoding="utf-8")
        problems = screen(source, allow_load_inline=self.spec.allow_load_inline,
                          extra_modules=self.spec.extra_modules)
        if problems:
            raise Rejected("rejected before running: " + "; ".join(problems[:6]))
        problem = Problem(self.spec.reference)
        problem.set_shape(self.shapes[0])
        reference = self._warm_up(problem)
        self.snapshot = Snapshot()
        self.threads = ThreadWatch()
        with self.threads:
            module = self._guarded("importing the candidate",
                                   lambda: load_module(self.path, "evolve_kernel_candidate"))
        self._verify()
        new_class = self._model_new(module, problem)
        for shape in self.shapes:
            problem.set_shape(shape)
            models = self._models(problem, new_class, f"shape {_describe(problem)}")
            for _ in range(self.spec.seeds_per_shape):  # one instance, fresh inputs: caches show up as wrong
                self._check(problem, models)
        self._verify()
        if not timed:
            return self._metrics({})
        problem.set_shape(self.shapes[0])
        with self.threads:  # the reference timed is the one compiled in the warm-up, built with the same seed
            new_model = self._guarded("building ModelNew (timing)", lambda: problem.build(
                new_class, self.device, self.dtype, self.timing_seed))
        models = (reference, new_model)
        timing = self._time(problem, models, source)
        self._check(problem, models)  # the timed instance, after its many calls, on inputs it has never seen
        self._verify()
        return self._metrics(timing)

    def _models(self, problem: Problem, new_class: type, what: str) -> Pair:
        with self.threads:
            return self._guarded(f"building ModelNew ({what})", lambda: problem.models(
                new_class, self.device, self.dtype, secrets.randbits(31)))

    def _warm_up(self, problem: Problem) -> torch.nn.Module:
        """Initialise the device, its libraries and torch's lazy state before the snapshot is taken: run the
        reference to be timed, and compile it (torch.compile's first use rewires torch.nn.Module methods)."""
        reference = problem.build(problem.model_class, self.device, self.dtype, self.timing_seed)
        inputs = problem.inputs(self.device, self.dtype, 1.0)
        with torch.no_grad():
            reference(*inputs)
            if self.cuda and self.spec.compare_compile:
                compiled = torch.compile(reference)
                try:
                    compiled(*inputs)  # compiled here, untimed
                    self.compiled = compiled
                except Exception as exc:  # noqa: BLE001 - a failing baseline is a note, not the candidate's fault
                    self.notes.append(f"torch.compile of the reference failed ({type(exc).__name__}): no "
                                      "compile baseline")
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
        return reference

    def _model_new(self, module: Any, problem: Problem) -> type:
        cls = vars(module).get("ModelNew")
        if not isinstance(cls, type) or not issubclass(cls, torch.nn.Module):
            raise Rejected("the program defines no `ModelNew` class (a torch.nn.Module subclass)")
        if issubclass(cls, problem.model_class):
            raise Rejected("ModelNew is (or derives from) the reference Model: write the kernel instead")
        return cls

    def _check(self, problem: Problem, models: Pair) -> None:
        """One correctness check on fresh inputs; raises Rejected with the first problem found."""
        ref_model, new_model = models
        scale = self.spec.input_scales[self.checks % len(self.spec.input_scales)]
        self.checks += 1
        where = f"check {self.checks} ({_describe(problem)}, input scale {scale:g})"
        inputs = problem.inputs(self.device, self.dtype, scale)
        pristine = [x.clone() if isinstance(x, torch.Tensor) else x for x in inputs]
        inputs_before, weights_before = digest(inputs), digest(new_model.state_dict().values())
        log = OpLog(self.spec.forbidden_ops)
        first = self._call(new_model, inputs, log, where)
        kept = [t.clone() for t in first]
        second = self._call(new_model, inputs, log, where)
        self.compute.update(log.compute)
        found = log.problems()
        if digest(inputs) != inputs_before:
            found.append("wrote into its input tensors")
        if digest(new_model.state_dict().values()) != weights_before:
            found.append("changed its own weights or buffers during forward")
        if shares_memory(first, second):
            found.append("returned the same memory on two calls (a reused buffer: the first result was "
                         "overwritten)")
        with torch.no_grad():  # the reference runs only now, after the candidate, on the untouched copy
            ref_outs = as_tensors(ref_model(*pristine), "the reference's output")
            wide = as_tensors(reference_float64(ref_model, pristine), "the float64 reference's output")
        found += structure_problems(first, ref_outs, inputs, new_model)
        if found:
            raise Rejected(f"{where}: " + "; ".join(found))
        atol, rtol = self.spec.tolerance(str(ref_outs[0].dtype).removeprefix("torch."))
        for i, (got, again, want, ref) in enumerate(zip(kept, second, wide, ref_outs)):
            label = "output" if len(kept) == 1 else f"output[{i}]"
            wrong = mismatch(got, want, ref.dtype, atol, rtol)
            if wrong:
                raise Rejected(f"{where}: {label} is wrong: {wrong}")
            differ = mismatch(again, got, ref.dtype, atol, rtol)
            if differ:
                raise Rejected(f"{where}: a second call on the same inputs disagrees with the first: "
                               f"{differ}")
            self.worst_error = max(self.worst_error, max_error(got, want))

    def _call(self, model: torch.nn.Module, inputs: list[Any], log: OpLog, where: str) -> list[torch.Tensor]:
        def run() -> Any:
            with self.threads, log, torch.no_grad():
                out = model(*inputs)
                if self.cuda:
                    torch.cuda.synchronize()
            return out
        out = self._guarded(f"ModelNew.forward in {where}", run)
        try:
            return as_tensors(out, "output")
        except ValueError as exc:
            raise Rejected(f"{where}: {exc}") from None

    def _time(self, problem: Problem, models: Pair, source: str) -> dict[str, Any]:
        ref_model, new_model = models
        inputs = problem.inputs(self.device, self.dtype, self.spec.input_scales[0])
        fns: dict[str, Callable[[], object]] = {"candidate": lambda: new_model(*inputs),
                                                "eager": lambda: ref_model(*inputs)}
        compiled = self.compiled
        if compiled is not None:
            fns["compile"] = lambda: compiled(*inputs)
        backend = Backend(self.device)
        with self.threads, torch.no_grad():
            if self.cuda:
                kernels = self._guarded("the profiled call", lambda: kernels_of_one_call(fns["candidate"]))
                found = library_problems(kernels, own_kernel_names(source), self.spec.forbidden_kernels,
                                         self.spec.max_library_share)
                if found:
                    raise Rejected("profiler: " + "; ".join(found))
            budget = 20.0 if self.cuda else 2.0  # the CPU stand-in's times mean little: keep them short
            phase = _perf_counter()
            samples = self._guarded("the timed calls", lambda: interleaved(
                fns, backend, min_total_s=self.spec.min_timing_s, budget_s=budget))
            phase = _perf_counter() - phase
            candidate = Stats.of(samples["candidate"])
            check = self._guarded("the wall-clock check", lambda: cross_check(fns["candidate"], backend,
                                                                              candidate.median))
        self._verify()
        if found := check.problem():
            raise Rejected(found)
        timing: dict[str, Any] = {"samples": samples, "candidate": candidate, "phase_s": phase}
        if self.cuda:
            timing["floor_s"] = self._floor(ref_model, inputs)
        return timing

    def _floor(self, ref_model: torch.nn.Module, inputs: list[Any]) -> float:
        name = torch.cuda.get_device_name()
        peaks = physics.peaks_for(name) or physics.peaks_for(name, physics.measure_bandwidth(self.device))
        if peaks is None:
            return 0.0
        flops = physics.flops_of(ref_model, inputs) * self.spec.flop_scale
        dtype = self.dtype or next((x.dtype for x in inputs if isinstance(x, torch.Tensor)), torch.float32)
        return physics.floor_seconds(physics.bytes_read(inputs, ref_model), flops, dtype, peaks)

    # ---- guards and results --------------------------------------------------------------------------------
    def _guarded(self, what: str, fn: Callable[[], Any]) -> Any:
        """Run candidate code; its exceptions become a rejection with its traceback (never a fallback)."""
        try:
            return fn()
        except Rejected:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the candidate raises is its failure
            detail = traceback.format_exc(limit=-6)[-_TRACE:]
            raise Rejected(f"{what} raised {type(exc).__name__}: {str(exc)[:400]}", detail) from None

    def _verify(self) -> None:
        assert self.snapshot is not None
        changes = self.snapshot.changes()
        if changes:
            self.snapshot.restore()
            raise Rejected("tampered with the harness: " + "; ".join(changes[:6]))
        problems = self.threads.problems()
        if problems:
            raise Rejected("; ".join(problems))

    def restore(self) -> None:
        if self.snapshot is not None:
            self.snapshot.restore()

    def _metrics(self, timing: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {"correct": 1.0, "checks": float(self.checks),
                                  "max_abs_error": self.worst_error}
        if self.compute:
            result["torch_ops"] = ", ".join(f"{op} x{n}" for op, n in self.compute.most_common(8))
        if self.notes:
            result["notes"] = "; ".join(self.notes)
        if not timing:
            result[OBJECTIVE] = 0.0
            return result
        samples, candidate = timing["samples"], timing["candidate"]
        eager = Stats.of(samples["eager"])
        speedup = eager.median / candidate.median
        result.update({
            OBJECTIVE: speedup, "speedup_spread": ratio_stats(samples["eager"], samples["candidate"]).spread,
            "runtime_us": candidate.median * 1e6, "runtime_spread": candidate.spread,
            "runtime_cv": candidate.cv,
            "eager_us": eager.median * 1e6, "trials": float(candidate.trials), "timing_s": timing["phase_s"],
        })
        if "compile" in samples:
            compiled = Stats.of(samples["compile"])
            result.update({
                "compile_us": compiled.median * 1e6, "speedup_vs_compile": compiled.median / candidate.median,
                "speedup_vs_compile_spread": ratio_stats(samples["compile"], samples["candidate"]).spread,
            })
        if not self.cuda:
            result["timing"] = "CPU stand-in (Triton interpreter): these times say nothing about a GPU"
            return result
        floor = timing.get("floor_s", 0.0)
        result["physics_floor_us"] = floor * 1e6
        impossible = physics.too_fast(candidate.median, floor)
        if impossible:
            result.update({OBJECTIVE: 0.0, "speedup_vs_compile": 0.0, "pending_review": impossible})
        return result

    def failed(self, exc: Rejected) -> dict[str, Any]:
        result: dict[str, Any] = {OBJECTIVE: 0.0, "correct": 0.0, "checks": float(self.checks),
                                  "error": exc.reason}
        if exc.detail:
            result["traceback"] = exc.detail
        return result


def _describe(problem: Problem) -> str:
    return ", ".join(f"{k}={v}" for k, v in problem.sizes().items())


def main(argv: list[str] | None = None) -> int:
    """Evaluate one program for a kernel task folder in this (fresh) process; print the result as JSON."""
    parser = argparse.ArgumentParser(prog="python -m evaluators.kernel", description=main.__doc__)
    parser.add_argument("task", type=Path, help="kernel task folder (its evaluate.py defines SPEC)")
    parser.add_argument("program", type=Path, nargs="?", help="candidate file (default: the task's seed)")
    parser.add_argument("--device", choices=["cuda", "cpu"], help="default: CUDA when present, else skip")
    parser.add_argument("--cache-dir", type=Path, help="compile caches (default: ./.kernel_cache)")
    parser.add_argument("--checks-only", action="store_true", help="correctness checks and guards, no timing")
    parser.add_argument("--no-compile", action="store_true", help="no torch.compile baseline (faster)")
    args = parser.parse_args(argv)
    spec = load_module(args.task / "evaluate.py", "evolve_kernel_task_evaluator").SPEC
    if args.no_compile:
        spec = dataclasses.replace(spec, compare_compile=False)
    program = args.program or args.task / "initial_program.py"
    result = evaluate_kernel(spec, program, device=args.device, cache_dir=args.cache_dir,
                             timed=not args.checks_only)
    json.dump(result, sys.stdout, indent=1, default=repr)
    print()
    return 0 if "error" not in result else 1


if __name__ == "__main__":  # run the imported module's main, so task files patch and see one module, not two
    from evaluators import kernel

    sys.exit(kernel.main())
