"""Evolve vs OpenEvolve: candidates per second of each loop, side by side, on the same instant stub LLM.

Both systems run the same trivial task (a program whose EVOLVE-BLOCK holds `def value(): return 0`, scored as
{"combined_score": value()}) for the same number of iterations at the same concurrency, against one instant
OpenAI-compatible HTTP server on 127.0.0.1 (tests/support/chat_server.py). Every reply is a distinct full
rewrite in a ```python block (`return <n>`), so neither system discards a reply as a duplicate and each
iteration costs one model call plus one evaluation. What is measured is then the loop itself:

  * OpenEvolve (PyPI `openevolve`, pinned below) runs each iteration in a warm ProcessPoolExecutor worker and
    calls the evaluator in that worker's process: the candidate is imported by the evaluator, no isolation.
  * Evolve runs each candidate in a fresh sandbox of its own (`auto` backend: `warm` when run as root, else
    `process`), judged over a pipe by the task's evaluator in a second sandbox (a long-lived evaluator server
    that forks a fresh judge per candidate), and stores every candidate in SQLite.

OpenEvolve is installed only in this benchmark's own virtual environment (created on first use, reused after;
see --venv) and runs in a subprocess with that environment's python. Evolve runs with the interpreter running
this script, through its Python API. Each run is a fresh subprocess of its own, and the time taken is that
of the run call alone (OpenEvolve's `await OpenEvolve(...).run()`, Evolve's `await controller.run()`): both
include the seed's evaluation and the start and stop of their workers (OpenEvolve's process pool, Evolve's
sandbox zygotes), neither includes interpreter start-up, imports or the venv/pip work. The runs alternate
(OpenEvolve, Evolve, OpenEvolve, ...) and the median of --runs runs of each is reported.

Settings shared by both: iterations, concurrency (OpenEvolve: evaluator.parallel_evaluations = worker
processes; Evolve: llm_concurrency = eval_concurrency), one island, full rewrites (OpenEvolve
diff_based_evolution: false; Evolve edit_mode: rewrite). OpenEvolve also gets: no cascade evaluation, an
in-memory database, no prompt logging, no evolution trace, no checkpoint before the end, log level WARNING.

Run:  python benchmarks/compare_openevolve.py [--iterations 100] [--concurrency 2] [--runs 2]
The first run creates the venv and pip-installs openevolve (about half a minute with a nearby index).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.chat_server import ChatServer

OPENEVOLVE_VERSION = "0.4.0"  # the version these figures were taken with; --openevolve-version to change
DEFAULT_VENV = Path.home() / ".cache" / "evolve-bench" / "openevolve-venv"
RESULT_MARK = "BENCH-RESULT "

PROGRAM = "# EVOLVE-BLOCK-START\ndef value():\n    return 0\n# EVOLVE-BLOCK-END\n"

# OpenEvolve's evaluator contract: evaluate(program_path) -> metrics; it imports the candidate itself.
OPENEVOLVE_EVALUATOR = textwrap.dedent("""\
    import importlib.util


    def evaluate(program_path):
        spec = importlib.util.spec_from_file_location("candidate", program_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return {"combined_score": float(module.value())}
    """)

# Evolve's equivalent: the candidate runs in its own sandbox and answers one call.
EVOLVE_EVALUATOR = textwrap.dedent("""\
    def evaluate(candidate):
        return {"combined_score": float(candidate.call("value"))}
    """)

EVOLVE_TASK_YAML = textwrap.dedent("""\
    name: compare-trivial
    seed: program.py
    evaluator: evaluate.py
    interface: call
    objective: combined_score
    direction: maximize
    limits: {wall_s: 30}
    """)

# Runs in the venv's python: one OpenEvolve run, timed around the run call; prints one JSON line.
OPENEVOLVE_DRIVER = textwrap.dedent("""\
    import asyncio, json, logging, os, sys, time

    spec = json.load(open(sys.argv[1]))
    import openevolve
    from openevolve import OpenEvolve
    from openevolve.config import Config

    n = spec["iterations"]
    config = Config.from_dict({
        "max_iterations": n,
        "checkpoint_interval": 10 ** 9,  # no checkpoint (only one at an iteration that is a multiple of it)
        "log_level": "WARNING",
        "log_dir": os.path.join(spec["out"], "logs"),
        "random_seed": 42,
        "diff_based_evolution": False,  # full rewrites in a ```python block
        "llm": {
            "models": [{"name": "stub", "weight": 1.0}],
            "api_base": spec["base_url"],
            "api_key": "sk-stub",
            "retries": 0,
            "timeout": 60,
        },
        "database": {"num_islands": 1, "in_memory": True, "log_prompts": False},
        "evaluator": {"parallel_evaluations": spec["concurrency"], "cascade_evaluation": False,
                      "use_llm_feedback": False},
        "evolution_trace": {"enabled": False},
    })
    controller = OpenEvolve(initial_program_path=spec["program"], evaluation_file=spec["evaluator"],
                            config=config, output_dir=spec["out"])
    # Count what reaches the database: MAP-Elites drops replaced programs from database.programs, so its size
    # at the end says nothing about how many candidates were evaluated. The seed is added first.
    added = []
    database_add = controller.database.add

    def counting_add(program, *args, **kwargs):
        added.append(dict(program.metrics or {}))
        return database_add(program, *args, **kwargs)

    controller.database.add = counting_add

    async def main():
        start = time.perf_counter()
        await controller.run(iterations=n)
        return time.perf_counter() - start

    wall = asyncio.run(main())
    children = added[1:]
    scored = [m for m in children if "combined_score" in m and "error" not in m]
    print("%s%s" % (spec["mark"], json.dumps({
        "version": openevolve.__version__, "python": sys.version.split()[0], "wall_s": wall,
        "children_ok": len(scored), "children": len(children),
        "kept": len(controller.database.programs), "workers": config.evaluator.parallel_evaluations,
    })), flush=True)
    """)

# Runs with the interpreter running this script: one Evolve run, timed around the run call.
EVOLVE_DRIVER = textwrap.dedent("""\
    import asyncio, json, sys, time

    spec = json.load(open(sys.argv[1]))
    sys.path.insert(0, spec["repo"])
    import evolve
    from evolve.runner import new_run, settings_from_cli

    n, c = spec["iterations"], spec["concurrency"]
    overrides = settings_from_cli([spec["model"]], iterations=n, llm_concurrency=c, eval_concurrency=c,
                                  islands=1, edit_mode="rewrite", sandbox=spec["sandbox"])
    prepared = new_run(spec["task"], "sqlite:///" + spec["db"], overrides)
    controller = prepared.controller
    from sandbox import get_sandbox
    box = get_sandbox(prepared.config.sandbox)  # the shared instance the run uses ("auto" resolved)
    sandbox = {"backend": box.name, "mode": box.describe().get("mode", "")}  # describe() is cached by new_run

    async def main():
        start = time.perf_counter()
        await controller.run()
        return time.perf_counter() - start

    wall = asyncio.run(main())
    stats = controller.stats
    print("%s%s" % (spec["mark"], json.dumps({
        "version": evolve.__version__, "python": sys.version.split()[0], "wall_s": wall,
        "children_ok": stats.by_status.get("ok", 0) - 1,  # minus the seed
        "by_status": dict(stats.by_status), "twins": stats.twins, "sandbox": sandbox,
    })), flush=True)
    """)


class BenchError(RuntimeError):
    """A step of the benchmark failed; the message says which and why."""


# -- the OpenEvolve environment -----------------------------------------------------------------------------
def venv_python(path: Path) -> Path:
    return path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def child_env() -> dict[str, str]:
    """The environment for the subprocesses, without anything that would mix one interpreter's packages into
    the other's."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def installed_openevolve(python: Path) -> str | None:
    out = subprocess.run([str(python), "-c", "import openevolve; print(openevolve.__version__)"],
                         capture_output=True, text=True, env=child_env(), check=False)
    return out.stdout.strip() if out.returncode == 0 else None


def ensure_openevolve(path: Path, version: str) -> Path:
    """Create (or reuse) the venv at `path` with openevolve==`version`; return its python."""
    python = venv_python(path)
    if not python.exists():
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise BenchError(f"{path} exists but holds no python ({python} is missing): it is not a venv. "
                             "Remove it or choose another folder with --venv.")
        print(f"creating the OpenEvolve venv at {path} ...", flush=True)
        try:
            venv.EnvBuilder(with_pip=True, clear=False).create(path)
        except (OSError, subprocess.CalledProcessError) as exc:
            shutil.rmtree(path, ignore_errors=True)
            hint = (" (on Debian/Ubuntu the python3-venv package provides ensurepip)"
                    if isinstance(exc, subprocess.CalledProcessError) else "")
            raise BenchError(f"could not create a venv at {path} with {sys.executable}: {exc}{hint}") \
                from None
        if not python.exists():
            raise BenchError(f"created a venv at {path} but it has no {python}")
    have = installed_openevolve(python)
    if have != version:
        print(f"installing openevolve=={version} into {path} (was: {have or 'not installed'}) ...",
              flush=True)
        out = subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                              f"openevolve=={version}"],
                             capture_output=True, text=True, env=child_env(), check=False)
        if out.returncode != 0:
            tail = "\n".join((out.stderr or out.stdout).strip().splitlines()[-15:])
            raise BenchError(f"pip could not install openevolve=={version} into {path} "
                             f"(exit {out.returncode}); "
                             f"is the package index reachable and does that version exist?\n{tail}")
        have = installed_openevolve(python)
        if have != version:
            raise BenchError(f"after pip install, {python} imports openevolve {have!r}, not {version}")
    return python


# -- the two tasks ------------------------------------------------------------------------------------------
def write_tasks(root: Path) -> tuple[Path, Path]:
    oe = root / "openevolve_task"
    oe.mkdir()
    (oe / "initial_program.py").write_text(PROGRAM)
    (oe / "evaluator.py").write_text(OPENEVOLVE_EVALUATOR)
    (oe / "driver.py").write_text(OPENEVOLVE_DRIVER)
    ev = root / "evolve_task"
    ev.mkdir()
    (ev / "task.yaml").write_text(EVOLVE_TASK_YAML)
    (ev / "program.py").write_text(PROGRAM)
    (ev / "evaluate.py").write_text(EVOLVE_EVALUATOR)
    (root / "evolve_driver.py").write_text(EVOLVE_DRIVER)
    return oe, ev


def run_child(name: str, argv: list[str], spec: dict, spec_path: Path, timeout_s: float) -> dict:
    spec_path.write_text(json.dumps(spec))
    try:
        out = subprocess.run(argv + [str(spec_path)], capture_output=True, text=True, env=child_env(),
                             timeout=timeout_s, cwd=spec_path.parent, check=False)
    except subprocess.TimeoutExpired:
        raise BenchError(f"the {name} run did not finish within {timeout_s:.0f} s (see --timeout)") from None
    for line in out.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            result = json.loads(line[len(RESULT_MARK):])
            result["stderr_tail"] = "\n".join(out.stderr.strip().splitlines()[-5:])
            return result
    tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-25:])
    raise BenchError(f"the {name} run (exit {out.returncode}) printed no result:\n{tail}")


def reply(body: dict, index: int) -> str:
    """A distinct full program for every request, in the ```python block both systems parse."""
    return f"```python\n# EVOLVE-BLOCK-START\ndef value():\n    return {index + 1}\n# EVOLVE-BLOCK-END\n```\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=100, help="children per run, both systems (100)")
    parser.add_argument("--concurrency", type=int, default=2,
                        help="OpenEvolve's worker processes; Evolve's llm_concurrency = eval_concurrency (2)")
    parser.add_argument("--runs", type=int, default=2, help="runs of each system; the median is reported (2)")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV,
                        help=f"virtual environment for OpenEvolve, created if missing ({DEFAULT_VENV})")
    parser.add_argument("--openevolve-version", default=OPENEVOLVE_VERSION,
                        help=f"openevolve version to install there ({OPENEVOLVE_VERSION})")
    parser.add_argument("--evolve-sandbox", default="auto",
                        help="Evolve's sandbox backend: auto (the default and the figure that counts), warm, "
                             "process, docker, or none (no isolation; for finding where the time goes)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed for one run (600)")
    args = parser.parse_args()
    if args.iterations < 1 or args.concurrency < 1 or args.runs < 1:
        parser.error("--iterations, --concurrency and --runs must be at least 1")

    try:
        oe_python = ensure_openevolve(args.venv.expanduser().resolve(), args.openevolve_version)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    results: dict[str, list[dict]] = {"openevolve": [], "evolve": []}
    with (tempfile.TemporaryDirectory(prefix="evolve-vs-openevolve-") as tmp,
          ChatServer(replies=reply) as server):
        root = Path(tmp)
        oe_task, ev_task = write_tasks(root)
        print(f"stub server: {server.openai_base_url}; {args.iterations} iterations at concurrency "
              f"{args.concurrency}, {args.runs} run(s) each", flush=True)
        try:
            for r in range(args.runs):
                out_dir = root / f"oe-out-{r}"
                res = run_child("OpenEvolve", [str(oe_python), str(oe_task / "driver.py")], {
                    "iterations": args.iterations, "concurrency": args.concurrency,
                    "base_url": server.openai_base_url, "program": str(oe_task / "initial_program.py"),
                    "evaluator": str(oe_task / "evaluator.py"), "out": str(out_dir), "mark": RESULT_MARK,
                }, root / f"oe-spec-{r}.json", args.timeout)
                results["openevolve"].append(res)
                print(f"  OpenEvolve run {r + 1}: {res['children_ok']} children in {res['wall_s']:.2f} s",
                      flush=True)
                res = run_child("Evolve", [sys.executable, str(root / "evolve_driver.py")], {
                    "iterations": args.iterations, "concurrency": args.concurrency, "repo": str(REPO),
                    "model": f"openai:stub@{server.openai_base_url}", "task": str(ev_task),
                    "db": str(root / f"evolve-{r}.db"), "mark": RESULT_MARK, "sandbox": args.evolve_sandbox,
                }, root / f"ev-spec-{r}.json", args.timeout)
                results["evolve"].append(res)
                print(f"  Evolve run {r + 1}:     {res['children_ok']} children in {res['wall_s']:.2f} s",
                      flush=True)
        except BenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        requests = len(server.chat_requests)

    def rate(res: dict) -> float:
        return res["children_ok"] / res["wall_s"]

    oe_rate = statistics.median(rate(r) for r in results["openevolve"])
    ev_rate = statistics.median(rate(r) for r in results["evolve"])
    oe0, ev0 = results["openevolve"][0], results["evolve"][0]
    sandbox = ev0.get("sandbox") or {}
    backend = sandbox.get("backend", "?") if isinstance(sandbox, dict) else str(sandbox)
    mode = sandbox.get("mode", "") if isinstance(sandbox, dict) else ""
    print()
    print(f"machine: {platform.machine()} {platform.system()} {platform.release()}, {cores} cores "
          f"({usable} usable by this process)")
    print(f"versions: Evolve {ev0['version']} (python {ev0['python']}), OpenEvolve {oe0['version']} "
          f"(python {oe0['python']}, venv {args.venv})")
    print(f"chat requests answered by the stub: {requests}")
    for name, runs in results.items():
        short = [r for r in runs if r["children_ok"] < args.iterations]
        if short:
            print(f"note: {name} stored fewer than {args.iterations} scored children in {len(short)} run(s): "
                  + ", ".join(str(r["children_ok"]) for r in short) + "; rates count scored children only")
            for r in short:
                if r.get("stderr_tail"):
                    print(textwrap.indent(r["stderr_tail"], "    "))
    print(f"OpenEvolve {oe0['version']} (in-process evaluation, {oe0['workers']} worker processes, "
          "no isolation): "
          f"{oe_rate:.1f} candidates/s  (runs: {', '.join(f'{rate(r):.1f}' for r in results['openevolve'])})")
    isolation = "no isolation" if backend == "none" else "candidate and evaluator in separate sandboxes"
    detail = f"{backend} - {mode}" if mode else backend
    print(f"Evolve {ev0['version']} (sandbox backend: {detail}; {isolation}, a new "
          f"process for each): {ev_rate:.1f} candidates/s  "
          f"(runs: {', '.join(f'{rate(r):.1f}' for r in results['evolve'])})")
    ratio = ev_rate / oe_rate if oe_rate > 0 else float("inf")
    verdict = "met" if ratio >= 2.0 else "not met"
    if args.evolve_sandbox != "auto":
        verdict += (f"; but the target is for the default auto backend, "
                    f"not --evolve-sandbox {args.evolve_sandbox}")
    print(f"ratio Evolve / OpenEvolve: {ratio:.2f}  (target >= 2.0: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
