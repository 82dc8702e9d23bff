"""Repository evaluation: a child is the checkout with its functions replaced; its own commands judge it.

Each child gets a fresh copy of the checkout's tracked files (a private snapshot taken once, when evaluation
starts, so edits to the checkout during a run do not leak in; the user's checkout is only read) with the
candidate's functions written in. Two shell commands run in the sandbox, in that copy, each under the task's
limits, with Evolve's interpreter first on PATH (its site-packages are readable, the copy is the work folder,
and first on PYTHONPATH, ahead of any editable install of the repository that points at the user's checkout):

1. `check` (the repository's tests) must exit 0, else the child is `invalid` and the command's output (its
   failing tests) becomes an artifact that the next prompt shows.
2. `score` reports the metrics. The contract, first match wins: a JSON object of numbers written to the file
   named by $EVOLVE_METRICS; else the last non-empty line of stdout, if it is a JSON object of numbers; else
   every stdout line of the form `name=number`. A missing objective, or a non-zero exit, makes the child
   `invalid`.

The score command runs the candidate's code in its own process (unlike the call interface of program tasks), so
a candidate could forge its numbers: the check command is the guard, and the sandbox bounds the damage.
"""

from __future__ import annotations

import json
import math
import re
import shlex
import shutil
import sys
import tempfile
import threading
import weakref
from pathlib import Path

from evaluators.result import EvalResult, TwinLookup
from evolve.repo_task import RepoEditError, RepoTask
from sandbox import Limits, Outcome, Sandbox

METRICS_VAR = "EVOLVE_METRICS"
_METRICS_FILE = ".evolve-metrics.json"
_TAIL = 3000  # characters of a command's output kept as an artifact
_REASON_CHARS = 800  # of those, what the failure's reason (the next prompt's feedback) quotes
_KEY_VALUE = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*=\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
# the score command, then its metrics file (if it wrote one) relayed on the sandbox's result channel: a job's
# writes to its folder do not come back from every backend; the relay is Python because sh takes only
# one-digit fds in a redirection
_COPY = ("import os; os.write(int(os.environ['EVOLVE_RESULT_FD']), "
         "open(os.environ['EVOLVE_METRICS'], 'rb').read(1 << 20))")
_RELAY = ('( {command}\n); rc=$?; if [ -s "$EVOLVE_METRICS" ]; then ' + shlex.quote(sys.executable)
          + " -I -c " + shlex.quote(_COPY) + "; fi; exit $rc")


class RepoEvaluator:
    """Scores candidate sources of one repository task; thread-safe (each child has its own folder)."""

    def __init__(self, task: RepoTask, sandbox: Sandbox, limits: Limits) -> None:
        self.task = task
        self.sandbox = sandbox
        self.limits = limits
        self._snapshot: Path | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_task(cls, task: RepoTask, sandbox: Sandbox, limits_spec=None) -> RepoEvaluator:
        lim = limits_spec or task.spec.limits
        limits = Limits(wall_s=lim.wall_s, cpu_s=lim.cpu_s or lim.wall_s, memory_mb=lim.memory_mb,
                        address_space=lim.address_space if lim.address_space is not None else True,
                        max_processes=lim.max_processes, file_size_mb=lim.file_size_mb, open_files=lim.open_files)
        return cls(task, sandbox, limits)

    def evaluate(self, source: str, twin_of: TwinLookup | None = None) -> EvalResult:
        """Blocking: apply, copy, check, score."""
        try:
            files = self.task.apply(source)
        except RepoEditError as exc:
            return EvalResult("invalid", reason=str(exc))
        seed = " on the unchanged checkout" if source == self.task.seed_source else ""
        work = Path(tempfile.mkdtemp(prefix="evolve-repo-child-"))
        try:
            shutil.copytree(self._tracked_copy(), work, symlinks=True, dirs_exist_ok=True)
            for rel, text in files.items():
                _replace_file(work / rel, text)
            # the child's copy first on Python's path: an editable install of the repository points at the
            # user's checkout, which would otherwise be what the tests import
            env = {"PYTHONPATH": str(work)}
            check = self.sandbox.run(["/bin/sh", "-c", self.task.spec.check], work, self.limits, env=env)
            failed = _failure(check, "check", self.task.spec.check, seed, self.limits)
            if failed is not None:
                return failed
            score = self.sandbox.run(["/bin/sh", "-c", _RELAY.format(command=self.task.spec.score)], work,
                                     self.limits, env={**env, METRICS_VAR: str(work / _METRICS_FILE)})
            return _scored(check, score, self.task.spec.objective, self.task.spec.score, seed, self.limits)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _tracked_copy(self) -> Path:
        """The checkout's tracked files, copied once, with the target files as the run started."""
        with self._lock:
            if self._snapshot is None:
                snapshot = Path(tempfile.mkdtemp(prefix="evolve-repo-"))
                weakref.finalize(self, shutil.rmtree, snapshot, True)
                for rel in sorted(self.task.tracked):
                    src = self.task.root / rel
                    if src.is_symlink() or src.is_file():  # a deleted file or a submodule (a folder) is skipped
                        (snapshot / rel).parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(src, snapshot / rel, follow_symlinks=False)
                for rel, text in self.task.originals.items():
                    _replace_file(snapshot / rel, text)
                self._snapshot = snapshot
            return self._snapshot

    def close(self) -> None:
        with self._lock:
            snapshot, self._snapshot = self._snapshot, None
        if snapshot is not None:
            shutil.rmtree(snapshot, ignore_errors=True)


def _replace_file(path: Path, text: str) -> None:
    """Write a new file in place of `path`: should `path` be a link, the link goes, its target is untouched."""
    path.unlink(missing_ok=True)
    path.write_text(text, encoding="utf-8")


def _output(outcome: Outcome) -> str:
    return (outcome.stdout.strip() + "\n" + outcome.stderr.strip()).strip()[-_TAIL:]


def _usage(*runs: Outcome) -> dict:
    return {"wall_s": sum(o.wall_s for o in runs), "cpu_s": sum(o.cpu_s for o in runs),
            "peak_mem_mb": max(o.peak_mem_mb for o in runs), "returncode": runs[-1].returncode}


def _failure(outcome: Outcome, role: str, command: str, seed: str, limits: Limits,
             *earlier: Outcome) -> EvalResult | None:
    """Why a command failed (timeout, sandbox violation, non-zero exit), or None when it exited 0."""
    usage = _usage(*earlier, outcome)
    artifacts = {f"{role}_output": _output(outcome)} if _output(outcome) else {}
    if outcome.timed_out:
        return EvalResult("timeout", artifacts=artifacts, **usage,
                          reason=f"the {role} command exceeded the {limits.wall_s:g} s wall-time limit{seed}")
    if outcome.violation:
        return EvalResult("sandbox-violation", artifacts=artifacts, reason=outcome.violation, **usage)
    if outcome.returncode != 0:
        return EvalResult("invalid", artifacts=artifacts, **usage,
                          reason=f"the {role} command `{command}` failed{seed} (exit {outcome.returncode}):"
                          + ("\n" + _gist(_output(outcome)) if not seed else " " + _gist(_output(outcome), " | ")))
    return None


def _gist(output: str, sep: str = "\n") -> str:
    """What the next prompt's feedback carries of a failing command: pytest's failure lines (FAILED, ERROR,
    E ...) when there are any, else the output's last lines (on one line for the seed: the user's error)."""
    lines = output.splitlines()
    failures = [line for line in lines if line.startswith(("FAILED ", "ERROR ", "E "))]
    return sep.join(failures or lines[-8:] or ["no output"])[-_REASON_CHARS:]


def _scored(check: Outcome, score: Outcome, objective: str, command: str, seed: str, limits: Limits) -> EvalResult:
    failed = _failure(score, "score", command, seed, limits, check)
    if failed is not None:
        return failed
    metrics = parse_metrics(score.stdout, score.result)
    artifacts = {"score_output": _output(score)} if _output(score) else {}
    usage = _usage(check, score)
    value = metrics.get(objective)
    if value is None:
        return EvalResult("invalid", metrics, artifacts, **usage,
                          reason=f"the score command `{command}` reported no '{objective}' metric{seed} (got "
                          f"{sorted(metrics) or 'none'}): print a JSON object as its last line, `name=value` "
                          f"lines, or write a JSON object to ${METRICS_VAR}")
    if not math.isfinite(value):
        return EvalResult("invalid", metrics, artifacts, reason=f"'{objective}' is {value}", **usage)
    return EvalResult("ok", metrics, artifacts, **usage)


def parse_metrics(stdout: str, metrics_file: bytes | None) -> dict[str, float]:
    """The score command's metrics, by the contract in this module's docstring (numbers only; rest ignored)."""
    for text in (metrics_file.decode("utf-8", "replace") if metrics_file else "",
                 (stdout.strip().splitlines() or [""])[-1]):
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if isinstance(data, dict):
            return _numbers(data.items())
    return _numbers((m.group(1), float(m.group(2))) for m in map(_KEY_VALUE.match, stdout.splitlines()) if m)


def _numbers(pairs) -> dict[str, float]:
    return {str(k): float(v) for k, v in pairs if isinstance(v, (int, float)) and not isinstance(v, bool)}
