"""How fast the dashboard's data endpoints answer on a big run: a generated store with one run of N children.

    python benchmarks/ui_pages.py                       # 100,000 children in a temporary SQLite store
    python benchmarks/ui_pages.py --children 20000 --keep /tmp/ui-bench.db

The store is written with bulk inserts (the candidates, their LLM calls and evaluations look like a real run's:
sources of 1-3 KB, prompts of ~2 KB, a score that climbs, failures of every kind, four islands, a lineage that
grows from elites) into the tables of evolve/store.py. Each endpoint is then asked in-process (Starlette's test
client: routing, queries, JSON; no network), cold (first request, empty caches) and warm (median of the next
`--repeat`), and while the run goes on (one child stored before each request). Wall and CPU time are both
given (CPU time is what the server spent, which other processes on a loaded machine do not inflate); the baseline
is SQLite reading the run's index once, measured in the same process.
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evolve.candidate import Candidate
from evolve.store import Store, candidates, evaluations, llm_calls
from evolve.ui.app import create_app
from evolve.ui.readonly import open_readonly

TASK = Path(__file__).resolve().parents[1] / "tasks" / "circle_packing"
STATUSES = ["ok"] * 62 + ["invalid"] * 18 + ["crashed"] * 9 + ["timeout"] * 4 + ["rejected-duplicate"] * 5 \
    + ["sandbox-violation"] * 2


def generate(storage: str, children: int, seed: int = 0) -> str:
    """One run of `children` children (plus a seed) written in batches of 5,000 rows per table."""
    rng = random.Random(seed)
    store = Store(storage)
    run_id = store.create_run(task_name="circle_packing", task_path=str(TASK), kind="program",
                              objective="sum_radii", direction="maximize",
                              config={"iterations": children, "islands": 4, "migration_interval": 10,
                                      "models": [{"provider": "openai", "name": "gpt-4o-mini"},
                                                 {"provider": "anthropic", "name": "claude-sonnet-4-5"}]},
                              environment={}, status="finished")
    seed_source = (TASK / "initial_program.py").read_text()
    now = time.time() - children * 2.0
    elites: list[tuple[float, str, int]] = []  # (score, id, generation)
    rows, calls, evals = [], [], []
    for seq in range(children + 1):
        cid = f"{run_id[:4]}c{seq:07d}"
        is_seed = seq == 0
        status = "ok" if is_seed else rng.choice(STATUSES)
        parent = None if is_seed else rng.choice(sorted(elites, reverse=True)[:8] if rng.random() < 0.7 else elites)
        progress = seq / children
        score = (2.0 + 0.6 * progress ** 0.5 + rng.gauss(0, 0.04)) if status == "ok" else None
        source = seed_source + "\n".join(f"    x{i} = {rng.random():.6f}  # tweak" for i in range(rng.randint(5, 60)))
        model = "openai:gpt-4o-mini" if rng.random() < 0.8 else "anthropic:claude-sonnet-4-5"
        pt, ct = rng.randint(1500, 3000), rng.randint(200, 900)
        cost = (pt * 0.15 + ct * 0.6) / 1e6 if model.startswith("openai") else (pt * 3 + ct * 15) / 1e6
        rows.append({
            "id": cid, "run_id": run_id, "seq": seq, "island": seq % 4, "parent_id": parent[1] if parent else None,
            "inspiration_ids": [], "generation": parent[2] + 1 if parent else 0, "kind": "program",
            "source": source, "edit_kind": "seed" if is_seed else "diff", "model": None if is_seed else model,
            "prompt_tokens": 0 if is_seed else pt, "completion_tokens": 0 if is_seed else ct,
            "cost_usd": 0.0 if is_seed else cost, "status": status,
            "reason": None if status == "ok" else f"{status}: see the evaluation's stderr",
            "score": score, "metrics": {"sum_radii": score or 0.0, "valid": float(status == "ok")},
            "features": {"code_length": float(len(source)), "edit_distance": rng.random()},
            "artifacts": {} if status == "ok" else {"stderr": "Traceback (most recent call last): ..."},
            "code_hash": f"{rng.getrandbits(128):032x}", "duplicate_of": None, "behaviour_hash": None,
            "eval_stage": 1, "eval_wall_s": rng.random(), "eval_cpu_s": rng.random(), "peak_mem_mb": 50.0,
            "llm_s": 0.0 if is_seed else rng.random() * 5, "created_at": now + seq * 2.0,
        })
        if status == "rejected-duplicate" and elites:
            rows[-1]["duplicate_of"] = rng.choice(elites)[1]
        if status == "ok":
            elites.append((score, cid, rows[-1]["generation"]))
            if len(elites) > 400:
                elites.sort(reverse=True)
                del elites[300:]
        if not is_seed:
            calls.append({"id": f"{run_id[:4]}l{seq:07d}", "run_id": run_id, "candidate_id": cid, "purpose": "mutation",
                          "model": model, "messages": [{"role": "system", "content": "You improve programs."},
                                                       {"role": "user", "content": seed_source}],
                          "reply": "```python\n" + source[-600:] + "\n```", "error": None, "prompt_tokens": pt,
                          "completion_tokens": ct, "cost_usd": cost, "latency_s": 2.0, "created_at": now + seq * 2})
        evals.append({"candidate_id": cid, "status": status, "stage": 1, "returncode": 0, "stdout": "",
                      "stderr": "" if status == "ok" else "Traceback ...", "wall_s": 0.5, "cpu_s": 0.4,
                      "peak_mem_mb": 50.0})
        if len(rows) == 5000 or seq == children:
            with store.engine.begin() as conn:
                conn.execute(insert(candidates), rows)
                if calls:
                    conn.execute(insert(llm_calls), calls)
                conn.execute(insert(evaluations), evals)
            rows, calls, evals = [], [], []
    store.close()
    return run_id


def timed(call) -> tuple[float, float]:
    """(wall ms, CPU ms of this process: the server's work, which a loaded machine's other processes do not
    inflate the way they inflate wall time)."""
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def get(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.text[:200])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="write the store here (and reuse it if it exists)")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory(prefix="evolve-ui-bench-")
    path = args.keep or Path(folder.name) / "bench.db"
    storage = f"sqlite:///{path}"
    if not path.exists():
        start = time.perf_counter()
        generate(storage, args.children)
        generate(storage, 100, seed=1)
        print(f"generated {args.children:,} + 100 children in {time.perf_counter() - start:.1f} s "
              f"({path.stat().st_size / 1e6:.0f} MB)")
    engine = open_readonly(storage)
    with engine.connect() as conn:
        big = conn.exec_driver_sql("SELECT id FROM runs ORDER BY created_at").scalars().first()
        scan = lambda: conn.exec_driver_sql(
            "SELECT count(*), sum(cost_usd) FROM candidates WHERE run_id = ?", (big,)).all()
        baseline = statistics.median(timed(scan)[0] for _ in range(args.repeat))
    client = TestClient(create_app(engine), base_url="http://127.0.0.1")
    writer = Store(storage)
    cand = writer.best_candidate(big, maximize=True).id
    pages = [("runs list", "/api/runs"), ("run figures + timelines", f"/api/runs/{big}"),
             ("MAP-Elites grid", f"/api/runs/{big}/grid"), ("lineage", f"/api/runs/{big}/lineage"),
             ("run page (HTML)", f"/runs/{big}"), ("candidate page (HTML)", f"/candidates/{cand}"),
             ("candidate diff", f"/api/candidates/{cand}/diff")]
    rows = []
    for label, url in pages:
        cold = timed(functools.partial(get, client, url))
        warm = [timed(functools.partial(get, client, url)) for _ in range(args.repeat)]
        live = []
        for _ in range(args.repeat):  # the run goes on: one more child before each request
            writer.add_candidate(Candidate(run_id=big, source="x = 1\n", score=1.0, edit_kind="diff",
                                           model="openai:gpt-4o-mini", features={"code_length": 6.0}))
            live.append(timed(functools.partial(get, client, url)))
        med = lambda pairs, i: statistics.median(p[i] for p in pairs)
        rows.append((label, cold, (med(warm, 0), med(warm, 1)), (med(live, 0), med(live, 1))))
    print(f"baseline: SQLite reads the run's {args.children:,}-entry index once in {baseline:.0f} ms (wall)")
    print("| endpoint | first request: wall / CPU ms | unchanged run: wall / CPU ms | after a new child: wall / CPU ms |")
    print("|---|---|---|---|")
    for label, cold, warm, live in rows:
        print(f"| {label} | {cold[0]:.0f} / {cold[1]:.0f} | {warm[0]:.0f} / {warm[1]:.0f} | {live[0]:.0f} / {live[1]:.0f} |")


if __name__ == "__main__":
    main()
