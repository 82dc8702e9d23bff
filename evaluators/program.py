"""Program evaluation: run a task's evaluator on a candidate inside the sandbox and read its report.

Two interfaces (task.yaml `interface`):
- call (default): the candidate runs in its own sandbox, a "worker" that answers calls over two pipes
  (candidate_channel.py), and the evaluator runs in a second sandbox that alone holds the result channel and
  can read the task folder: a long-lived evaluator server that loaded the evaluator once and judges each
  candidate in a fresh fork (evaluator_pool.py), or, on docker, a one-off harness run per candidate. The
  candidate's folder holds only its program and the task's `candidate_files`.
- path (OpenEvolve): one sandbox; the evaluator imports the program itself.
- shinka (ShinkaEvolve): one sandbox; `evaluate.py --program_path P --results_dir D` runs there
  (shinka_eval.py) and its metrics.json / correct.json are read back.

Functional hashing (call interface, when the evaluator defines `probes()`): before the full evaluation the
engine itself sends the probe calls to the worker and hashes the replies; a candidate that answers exactly like
a known one is not evaluated again (`EvalResult.twin_of`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evaluators import candidate_channel as channel
from evaluators.background import Background
from evaluators.evaluator_pool import EvaluatorPool, ServerDidNotStart, ServerFailed
from evaluators.result import EvalResult, TwinLookup
from evolve.safe_text import valid_utf8
from sandbox import Limits, Outcome, Sandbox

HARNESS = Path(__file__).resolve().with_name("harness.py")
CHANNEL = Path(__file__).resolve().with_name("candidate_channel.py")
_TAIL = 2000  # characters of stderr/stdout kept as artifacts for the next prompt
_GRACE_S = 2.0  # the evaluator's sandbox outlives its own deadline by this much, so it can still report
_PROBE_REPLY_MAX = 1 << 20  # bytes of probe replies the engine accepts per candidate
_HELLO_MAX = 1 << 10  # bytes of the worker's "ready" message



class ProgramEvaluator:
    """Scores candidate sources for one task: fresh private folders and fresh sandboxed processes each time."""

    def __init__(self, *, evaluator_path: Path, program_name: str, objective: str, thresholds: list[float],
                 sandbox: Sandbox, limits: Limits, task_root: Path, interface: str = "call",
                 candidate_files: list[Path] | None = None, peer_spec: dict | None = None, split: str = "dev",
                 eval_seed: int | None = None) -> None:
        self._settings = dict(evaluator_path=evaluator_path, program_name=program_name, objective=objective,
                              thresholds=thresholds, sandbox=sandbox, limits=limits, task_root=task_root,
                              interface=interface, candidate_files=candidate_files, peer_spec=peer_spec)
        self.split = split  # dev: the cascade and `evaluate`; test: the held-out `evaluate_test`, nothing else
        self.eval_seed = eval_seed  # set: the evaluator's `random` is reseeded with it (re-verification)
        self.evaluator_path = evaluator_path
        self.peer_spec = peer_spec or {}  # what a peer's format adds to the harness spec (e.g. fitness_exclude)
        self.program_name = program_name
        self.objective = objective
        self.thresholds = thresholds
        self.sandbox = sandbox
        self.limits = limits
        self.interface = interface
        self.candidate_files = candidate_files or []
        self.task_root = task_root  # hidden from the candidate: it may hold reference answers
        self.evaluator_paths = [HARNESS.parent, task_root]  # what the evaluator's sandbox may read
        self._probes: list | None = None
        self._probes_lock = threading.Lock()
        self._probes_loaded = False
        self._servers: EvaluatorPool | None = None
        self._pool_lock = threading.Lock()

    @classmethod
    def for_task(cls, task: Any, sandbox: Sandbox, limits_spec: Any = None) -> ProgramEvaluator:
        """The evaluator of a loaded task (evolve.task.Task) under `limits_spec` (a run's LimitsSpec), or the
        task's own limits."""
        spec = task.spec
        lim = limits_spec or spec.limits
        address_space = lim.address_space if lim.address_space is not None else spec.kind != "kernel"
        limits = Limits(wall_s=lim.wall_s, cpu_s=lim.cpu_s or lim.wall_s, memory_mb=lim.memory_mb,
                        address_space=address_space, max_processes=lim.max_processes,
                        file_size_mb=lim.file_size_mb, open_files=lim.open_files,
                        allowed_syscalls=frozenset(lim.allow_syscalls))
        return cls(evaluator_path=task.evaluator_path, program_name=task.seed_path.name, objective=spec.objective,
                   thresholds=spec.cascade_thresholds, sandbox=sandbox, limits=limits, task_root=task.root,
                   interface=spec.interface, candidate_files=task.candidate_files,
                   peer_spec=getattr(task, "evaluator_spec", None))

    def variant(self, *, split: str = "dev", eval_seed: int | None = None) -> ProgramEvaluator:
        """The same evaluator on another split or under another seed, with servers of its own (fresh sandboxes)."""
        return ProgramEvaluator(**self._settings, split=split, eval_seed=eval_seed)

    def evaluate(self, source: str, twin_of: TwinLookup | None = None) -> EvalResult:
        """Blocking; the controller calls it from worker threads, several at once."""
        if self.interface != "call":
            return interpret(self._run_harness(source, {}), self.objective, self.limits)
        return self._evaluate_split(source, twin_of)

    # ---- the call interface ---------------------------------------------------------------------------------
    def _evaluate_split(self, source: str, twin_of: TwinLookup | None) -> EvalResult:
        """The candidate's worker starts; once it is up (and, with probes, known not to be a functional twin)
        the evaluator judges it over the channel."""
        behaviour = twin = outcome = None
        with _folder("evolve-cand-") as cand_dir:
            program = cand_dir / self.program_name
            program.write_text(source, encoding="utf-8")
            for path in self.candidate_files:
                shutil.copyfile(path, cand_dir / path.name)
            worker = _Worker(self.sandbox, program, cand_dir, self._worker_limits(), hidden=[self.task_root])
            try:
                # read while the worker starts: the first evaluation starts both sandboxes' zygotes at once
                probes = self.probes() if twin_of is not None else None
                ready = worker.wait_ready(self.limits.wall_s)
                if ready and probes:
                    behaviour = worker.probe(probes)
                    twin = twin_of(behaviour) if twin_of is not None else None
                if ready and twin is None:
                    outcome = self._judge(source, worker)
            finally:
                candidate = worker.finish()
        if not ready:
            return worker.failed(candidate, self.limits)
        if twin is not None:
            return EvalResult("ok", reason=f"behaves exactly like candidate {twin} on the task's probes",
                              behaviour_hash=behaviour, twin_of=twin)
        if isinstance(outcome, str):
            return EvalResult("crashed", reason=outcome, wall_s=candidate.wall_s, cpu_s=candidate.cpu_s,
                              peak_mem_mb=candidate.peak_mem_mb)
        result = interpret(outcome, self.objective, self.limits, candidate)
        result.behaviour_hash = behaviour
        return result

    def _judge(self, source: str, worker: _Worker) -> Outcome | str:
        """The evaluator's outcome on the candidate behind `worker`, or why the evaluator itself failed.

        Backends that pass fds into a process (process, warm) judge on a long-lived evaluator server;
        docker relays fds over sockets at the start of a run, so there each candidate gets its own run."""
        channel = worker.hand_over()
        try:
            if self.sandbox.relays_fds:
                spec = {"interface": "call", "fds": channel, "deadline_s": self.limits.wall_s}
                return self._run_harness(source, spec, self.limits.extended(_GRACE_S), pass_fds=tuple(channel))
            return self._pool().judge(source, channel)
        except ServerDidNotStart as exc:
            return exc.outcome if exc.outcome is not None else str(exc)
        except ServerFailed as exc:
            return str(exc)
        finally:
            _close(*channel)

    def _pool(self) -> EvaluatorPool:
        with self._pool_lock:
            if self._servers is None:
                spec = {"objective": self.objective, **self._split_spec()}
                self._servers = EvaluatorPool(self.sandbox, self.evaluator_path, spec, self.evaluator_paths,
                                              self.limits, _GRACE_S)
                weakref.finalize(self, self._servers.close)  # an evaluator dropped without close() (tests, API)
            return self._servers

    def close(self) -> None:
        """Stop the evaluator servers (a later evaluation starts new ones)."""
        with self._pool_lock:
            servers, self._servers = self._servers, None
        if servers is not None:
            servers.close()

    def probes(self) -> list | None:
        """The task's probe calls (from `probes()` in its evaluator, run once in the sandbox), or None."""
        with self._probes_lock:
            if not self._probes_loaded:
                outcome = self._run_harness("", {"mode": "probes"})
                report = _parse_report(outcome.result) or {}
                if "error" in report or outcome.timed_out:
                    raise RuntimeError(f"{self.evaluator_path.name}: probes() failed: "
                                       f"{report.get('error') or outcome.violation or outcome.stderr[-500:]}")
                self._probes = report.get("probes")
                self._probes_loaded = True
            return self._probes

    def _run_harness(self, source: str, spec: dict, limits: Limits | None = None,
                     pass_fds: tuple[int, ...] = ()) -> Outcome:
        """The evaluator's harness in one sandbox, beside `source` as the program (the path interface, the
        probes' run, and the call interface's judge where the backend relays fds)."""
        with _folder("evolve-eval-") as workdir:
            program = workdir / self.program_name
            program.write_text(source, encoding="utf-8")
            return self.sandbox.run(self._harness_argv(program, spec), workdir, limits or self.limits,
                                    readonly_paths=self.evaluator_paths, pass_fds=pass_fds, preload=(CHANNEL,))

    def _split_spec(self) -> dict:
        """What tells the harness which function judges (the cascade or `evaluate_test`) and under which seed."""
        thresholds = self.thresholds if self.split == "dev" else []
        return {"thresholds": thresholds, "split": self.split, "eval_seed": self.eval_seed}

    def _harness_argv(self, program: Path, spec: dict) -> list[str]:
        full = {"objective": self.objective, "interface": self.interface, **self.peer_spec, **self._split_spec(),
                **spec}
        return [sys.executable, "-I", str(HARNESS), str(self.evaluator_path), str(program), json.dumps(full)]

    def _worker_limits(self) -> Limits:
        return self.limits.extended(2 * _GRACE_S)  # outlives the evaluator, which decides about timeouts


class _Worker:
    """The candidate's sandbox, run in a thread; the engine holds the evaluator's ends of its two pipes."""

    def __init__(self, sandbox: Sandbox, program: Path, workdir: Path, limits: Limits,
                 hidden: list[Path]) -> None:
        self.request_r, self.request_w = os.pipe()
        self.reply_r, self.reply_w = os.pipe()
        argv = [sys.executable, "-I", str(CHANNEL), str(program), str(self.request_r), str(self.reply_w)]
        pass_fds = (self.request_r, self.reply_w)
        self._run = Background(lambda: sandbox.run(argv, workdir, limits, readonly_paths=[CHANNEL.parent],
                                                    pass_fds=pass_fds, hidden_paths=hidden))

    def wait_ready(self, timeout_s: float) -> bool:
        """True once the worker runs (then the engine closes the worker's ends, so EOF means it ended)."""
        try:
            hello = channel.read_frame(self.reply_r, time.monotonic() + timeout_s, _HELLO_MAX)
        except (TimeoutError, EOFError, ValueError, OSError):
            hello = None
        _close(self.request_r, self.reply_w)
        self.request_r = self.reply_w = -1
        return bool(hello and hello.get("ready"))

    def hand_over(self) -> list[int]:
        """The evaluator's ends of the channel, [request_w, reply_r], now the caller's to close: the worker
        reads EOF (and ends) as soon as the last copy is closed."""
        channel, self.request_w, self.reply_r = [self.request_w, self.reply_r], -1, -1
        return channel

    def probe(self, probes: list) -> str:
        """Send each probe call; the hash of the replies identifies the candidate's behaviour. This runs in the
        engine, so whatever the worker does (ends, floods, nests its JSON thousands deep) only makes replies
        that hash as errors: at most _PROBE_REPLY_MAX bytes are read in all."""
        digest, received = hashlib.sha256(), 0
        deadline = time.monotonic() + 2.0 + 0.5 * len(probes)  # probes are meant to be tiny
        for function, args in probes:
            try:
                reply = channel.call(self.request_w, self.reply_r, {"call": function, "args": args}, deadline,
                                     _PROBE_REPLY_MAX - received)
            except TimeoutError:
                reply = {"error": "no reply", "kind": "timeout"}
            except (EOFError, OSError):  # it ended (a write to it can fail too)
                reply = None
            except ValueError:  # over the budget, or not a JSON object
                return hashlib.sha256(b"unreadable:" + digest.digest()).hexdigest()
            reply = reply or {"error": "ended", "kind": "crashed"}
            # errors hash by kind and exception type only: messages may hold addresses or timings
            body = reply.get("value") if "value" in reply else [reply.get("kind"), str(reply.get("error", ""))
                                                                 .split(":")[0]]
            text = json.dumps(body, sort_keys=True, separators=(",", ":"))
            received += len(text)
            if received > _PROBE_REPLY_MAX:
                return hashlib.sha256(b"oversized:" + digest.digest()).hexdigest()
            digest.update(text.encode())
            digest.update(b"\n")
        return digest.hexdigest()

    def finish(self) -> Outcome:
        """Close the evaluator's ends (the worker reads EOF and exits) and wait for the sandbox to return."""
        _close(self.request_w, self.reply_r, self.request_r, self.reply_w)
        self.request_w = self.reply_r = self.request_r = self.reply_w = -1
        return self._run.join()

    @staticmethod
    def failed(outcome: Outcome, limits: Limits) -> EvalResult:
        """Why a worker that never said "ready" failed, from its sandbox's `outcome` (what finish() returned)."""
        result = interpret(outcome, "", limits)
        if result.status == "crashed":
            result.reason = f"the candidate's process did not start: {result.reason}"
        return result


def _close(*fds: int) -> None:
    for fd in fds:
        if fd >= 0:
            os.close(fd)


@contextlib.contextmanager
def _folder(prefix: str) -> Iterator[Path]:
    """A fresh private temporary folder, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def interpret(outcome: Outcome, objective: str, limits: Limits, candidate: Outcome | None = None) -> EvalResult:
    """Map the evaluator's outcome and report (and, with the call interface, the candidate's own sandbox outcome)
    to a status, metrics, artifacts and a readable reason."""
    runs = [o for o in (outcome, candidate) if o is not None]
    base = dict(wall_s=outcome.wall_s, cpu_s=sum(o.cpu_s for o in runs),
                peak_mem_mb=max(o.peak_mem_mb for o in runs), returncode=(candidate or outcome).returncode)
    artifacts = _output_tails(candidate or outcome, "")
    if candidate is not None:
        artifacts.update(_output_tails(outcome, "evaluator_"))
    if outcome.timed_out:
        return EvalResult("timeout", artifacts=artifacts, reason=f"exceeded the {limits.wall_s:g} s wall-time limit",
                          **base)
    report = _parse_report(outcome.result)
    if outcome.violation:
        return EvalResult("sandbox-violation", artifacts=artifacts, reason=outcome.violation, **base)
    if report is None:
        last = outcome.stderr.strip().splitlines()[-1:] or ["no output"]
        return EvalResult("crashed", artifacts=artifacts,
                          reason=f"evaluation process ended (exit code {outcome.returncode}) without a report: {last[0]}",
                          **base)
    artifacts.update(report.get("artifacts", {}))
    stage = int(report.get("stage", 0))
    metrics = {k: float(v) for k, v in report.get("metrics", {}).items() if isinstance(v, (int, float))}
    if "candidate_error" in report:
        return _candidate_failure(report, candidate, metrics, artifacts, stage, limits, base)
    if "error" in report:
        artifacts["traceback"] = str(report.get("traceback", ""))[-_TAIL:]
        return EvalResult("crashed", metrics, artifacts, reason=str(report["error"])[:500], stage=stage, **base)
    if "skipped" in artifacts:  # the evaluator could not judge here (e.g. no CUDA device): not the candidate's fault
        return EvalResult("skipped", metrics, artifacts, reason=f"skipped: {artifacts['skipped']}", stage=stage,
                          **base)
    if "error" in artifacts:
        return EvalResult("invalid", metrics, artifacts, reason=artifacts["error"][:500], stage=stage, **base)
    value = metrics.get(objective)
    if value is None:
        return EvalResult("invalid", metrics, artifacts, stage=stage,
                          reason=f"the evaluator returned no '{objective}' metric (got {sorted(metrics)})", **base)
    if not math.isfinite(value):
        return EvalResult("invalid", metrics, artifacts, reason=f"'{objective}' is {value}", stage=stage, **base)
    return EvalResult("ok", metrics, artifacts, stage=stage, **base)


def _candidate_failure(report: dict, candidate: Outcome | None, metrics: dict, artifacts: dict, stage: int,
                       limits: Limits, base: dict) -> EvalResult:
    """A call into the candidate failed: say why in the candidate's terms (its sandbox knows best)."""
    kind, message = report["candidate_error"], str(report.get("error", ""))[:500]
    if report.get("traceback"):
        artifacts["traceback"] = str(report["traceback"])[-_TAIL:]
    if kind == "timeout" or (candidate is not None and candidate.timed_out):
        return EvalResult("timeout", metrics, artifacts, stage=stage, **base,
                          reason=f"exceeded the {limits.wall_s:g} s wall-time limit ({message})")
    if candidate is not None and candidate.violation and kind == "crashed":
        return EvalResult("sandbox-violation", metrics, artifacts, reason=candidate.violation, stage=stage, **base)
    status = "invalid" if kind == "bad-value" else "crashed"
    return EvalResult(status, metrics, artifacts, reason=message, stage=stage, **base)


def _output_tails(outcome: Outcome, prefix: str) -> dict[str, str]:
    return {prefix + k: v[-_TAIL:] for k, v in (("stderr", outcome.stderr), ("stdout", outcome.stdout)) if v.strip()}


def _parse_report(raw: bytes | None) -> dict | None:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        report = json.loads(text)
        if "\\ud" in text:  # maybe an escaped lone surrogate: see evolve.safe_text.valid_utf8
            report = json.loads(valid_utf8(json.dumps(report, ensure_ascii=False)))
    except (ValueError, RecursionError):
        return None
    return report if isinstance(report, dict) else None
