"""Run the example folders of OpenEvolve's and ShinkaEvolve's own repositories with Evolve, unmodified, and check
that each seed scores in Evolve's sandbox what the peer's own evaluator gives it when run directly.

For every example folder (OpenEvolve: `evaluator.py` + `initial_program.*`; ShinkaEvolve: `evaluate.py` +
`initial.*`) under the given checkouts:
1. the peer's evaluator scores the seed directly, outside any sandbox, as the peer runs it (OpenEvolve:
   `evaluator.evaluate(path)` imported from the folder; ShinkaEvolve: `python evaluate.py --program_path P
   --results_dir D`), with Evolve's stand-ins for `openevolve.evaluation_result` / `shinka.core` on the path;
2. `evolve run FOLDER` runs a few iterations against a stand-in model: an OpenAI-compatible server on 127.0.0.1
   (tests/support/chat_server.py) that answers each request with the parent program plus one harmless new
   line before its EVOLVE-BLOCK-END (a Python assignment, or a comment in other languages), so every child is
   new code that the evaluator really scores;
3. a markdown table says, per folder: the seed's score both ways, the children stored (by status), or why the
   folder did not run (the one-line error Evolve printed).

Nothing of the peers' repositories is copied into this project: point the script at checkouts of them.

Run:  git clone https://github.com/algorithmicsuperintelligence/openevolve /tmp/oe
      git clone https://github.com/SakanaAI/ShinkaEvolve /tmp/shinka
      python benchmarks/peer_examples.py --openevolve /tmp/oe --shinka /tmp/shinka [--iterations 3]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluators.openevolve_fitness import fill_fitness  # noqa: E402
from tests.support.chat_server import ChatServer  # noqa: E402

COMPAT = ROOT / "evaluators" / "peer_compat"
_PARENT = re.compile(r"Current program \([^\n]*\):\n```[^\n]*\n(.*?)\n```", re.S)
_END = re.compile(r"^([ \t]*)([^\w\n]*)EVOLVE-BLOCK-END", re.M)

_DIRECT_OPENEVOLVE = """
import json, sys
sys.path.insert(0, '.')
sys.path.append(sys.argv[2])
import evaluator
result = evaluator.evaluate(sys.argv[1])
metrics = getattr(result, 'metrics', result)
print('@@' + json.dumps({k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}))
"""


def stand_in_reply(body: dict, index: int) -> str:
    """The parent program with one new line before its last EVOLVE-BLOCK-END, as a full rewrite."""
    prompt = body["messages"][-1]["content"]
    found = _PARENT.search(prompt)
    if not found:
        return "I cannot see the program."
    code = found.group(1)
    ends = list(_END.finditer(code))
    if not ends:
        return f"```\n{code}\n```"
    last = ends[-1]
    indent, comment = last.group(1), last.group(2).strip()
    line = f"{indent}_stand_in_edit = {index}" if comment == "#" and "def " in code else \
        f"{indent}{comment or '#'} stand-in edit {index}"
    return f"```\n{code[:last.start()]}{line}\n{code[last.start():]}\n```"


def peer_folders(root: Path) -> list[tuple[str, Path]]:
    """(format, folder) of every example folder under root/examples."""
    found = []
    for evaluator in sorted((root / "examples").rglob("evaluat*.py")):
        folder = evaluator.parent
        if evaluator.name == "evaluator.py" and any(folder.glob("initial_program.*")):
            found.append(("openevolve", folder))
        elif evaluator.name == "evaluate.py" and any(folder.glob("initial.*")):
            found.append(("shinka", folder))
    return found


def direct_score(fmt: str, folder: Path, timeout: float) -> tuple[float | None, str]:
    """The peer's evaluator on the seed, run directly as the peer runs it: (score, note)."""
    env = {**os.environ, "PYTHONPATH": str(COMPAT)}
    with tempfile.TemporaryDirectory() as tmp:
        if fmt == "openevolve":
            seed = sorted(folder.glob("initial_program.*"))[0]
            argv = [sys.executable, "-c", _DIRECT_OPENEVOLVE, str(seed), str(COMPAT)]
        else:
            seed = sorted(folder.glob("initial.*"))[0]
            argv = [sys.executable, "evaluate.py", "--program_path", str(seed), "--results_dir", tmp]
        try:
            done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, f"direct run timed out after {timeout:g} s"
        if fmt == "openevolve":
            lines = [x for x in done.stdout.splitlines() if x.startswith("@@")]
            if not lines:
                return None, (done.stderr.strip().splitlines() or ["no result"])[-1][:160]
            metrics = json.loads(lines[-1][2:])
            fill_fitness(metrics, "combined_score", [])
            return metrics["combined_score"], ""
        metrics_file, correct_file = Path(tmp, "metrics.json"), Path(tmp, "correct.json")
        if not metrics_file.is_file():
            return None, (done.stderr.strip().splitlines() or ["no metrics.json"])[-1][:160]
        score = json.loads(metrics_file.read_text()).get("combined_score")
        correct = json.loads(correct_file.read_text()).get("correct") if correct_file.is_file() else False
        return score, "" if correct else "incorrect"


def evolve_run(folder: Path, base_url: str, iterations: int, timeout: float, db: Path) -> dict:
    argv = [sys.executable, "-m", "evolve", "run", str(folder), "--model", f"openai:stand-in@{base_url}",
            "-n", str(iterations), "--edit-mode", "rewrite", "--llm-concurrency", "1", "--eval-concurrency", "1",
            "--islands", "1", "--storage", f"sqlite:///{db}", "--quiet"]
    start = time.monotonic()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s"}
    out = {"wall_s": time.monotonic() - start, "rc": done.returncode}
    errors = [x for x in (done.stdout + done.stderr).splitlines() if x.startswith("Error:")]
    if errors:
        out["error"] = errors[-1][len("Error: "):]
    elif done.returncode != 0:
        out["error"] = f"exit code {done.returncode}: " + (done.stderr.strip().splitlines() or [""])[-1][:160]
    notes = [x.split("note: ", 1)[1] for x in done.stdout.splitlines() if "note: " in x]
    out["notes"] = notes
    if db.is_file():
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT edit_kind, status, score, reason FROM candidates").fetchall()
        seeds = [r for r in rows if r[0] == "seed"]
        if seeds:
            out["seed"] = (seeds[0][1], seeds[0][2], seeds[0][3])
        kids: dict[str, int] = {}
        for r in rows:
            if r[0] != "seed":
                kids[r[1]] = kids.get(r[1], 0) + 1
        out["children"] = kids
    return out


def _fmt(score: float | None) -> str:
    return "n/a" if score is None or (isinstance(score, float) and math.isnan(score)) else f"{score:.6g}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--openevolve", type=Path, help="a checkout of OpenEvolve's repository")
    parser.add_argument("--shinka", type=Path, help="a checkout of ShinkaEvolve's repository")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run (each way)")
    parser.add_argument("--only", nargs="*", default=[], help="run only folders whose path contains one of these")
    args = parser.parse_args()
    folders = [(fmt, f, root) for root in (args.openevolve, args.shinka) if root for fmt, f in peer_folders(root)]
    if args.only:
        folders = [x for x in folders if any(o in str(x[1]) for o in args.only)]
    print("| example | format | seed score: peer's evaluator, direct | seed score: Evolve, sandboxed | "
          "children stored | result |")
    print("|---|---|---|---|---|---|")
    with ChatServer(replies=stand_in_reply) as server, tempfile.TemporaryDirectory() as tmp:
        for i, (fmt, folder, root) in enumerate(folders):
            name = str(folder.relative_to(root / "examples"))
            peer, peer_note = direct_score(fmt, folder, args.timeout)
            run = evolve_run(folder, server.openai_base_url, args.iterations, args.timeout, Path(tmp) / f"{i}.db")
            seed = run.get("seed")
            children = ", ".join(f"{n} {s}" for s, n in sorted(run.get("children", {}).items())) or "none"
            if "error" in run and not seed:
                result = f"did not run: {run['error']}"
            elif seed and seed[0] != "ok":
                result = f"seed {seed[0]}: {(seed[2] or '')[:160]}"
            else:
                result = "ran" + (f"; {run['error']}" if "error" in run else "")
            if peer_note:
                result += f" (direct: {peer_note})"
            print(f"| {name} | {fmt} | {_fmt(peer)} | {_fmt(seed[1] if seed else None)} | {children} | "
                  f"{result.replace('|', '/')} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
