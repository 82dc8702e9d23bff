"""How fast the dashboard's data endpoints answer on a big run: a generated store with one run of N children.

    python benchmarks/ui_pages.py                       # 100,000 children in a temporary SQLite store
    python benchmarks/ui_pages.py --children 20000 --keep /tmp/ui-bench.db

The store is written with bulk inserts (the candidates, their LLM calls and evaluations look like a real run's:
sources of 1-3 KB, prompts of ~2 KB, a score that climbs, failures of every kind, four islands, a lineage that
grows from elites) into the tables of evolve/store.py. Each endpoint is then asked in-process (Starlette's test
client: routing, queries, JSON; no network), cold (first request, empty caches) and warm (median of the next
`--repeat`). The endpoint of a small run of the same store is measured beside it as the baseline.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evolve.store import Store, candidates, evaluations, llm_calls  # noqa: E402
from evolve.ui.app import create_app  # noqa: E402
from evolve.ui.readonly import open_readonly  # noqa: E402

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


def measure(client: TestClient, url: str, repeat: int) -> tuple[float, float]:
    """(cold ms, warm median ms) of GET url."""
    times = []
    for _ in range(repeat + 1):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.text[:200])
    return times[0], statistics.median(times[1:])


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
        big = generate(storage, args.children)
        small = generate(storage, 100, seed=1)
        print(f"generated {args.children:,} + 100 children in {time.perf_counter() - start:.1f} s "
              f"({path.stat().st_size / 1e6:.0f} MB)")
    engine = open_readonly(storage)
    with engine.connect() as conn:
        ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM runs ORDER BY created_at")]
    big, small = ids[0], ids[-1]
    client = TestClient(create_app(engine), base_url="http://127.0.0.1")
    best = client.get(f"/api/runs/{big}/lineage").json()["nodes"][-1]["id"]
    results = {}
    for label, template in [("runs list", "/api/runs"), ("run figures + timelines", "/api/runs/{run}"),
                            ("MAP-Elites grid", "/api/runs/{run}/grid"), ("lineage", "/api/runs/{run}/lineage"),
                            ("candidate page", "/candidates/{cand}"), ("candidate diff", "/api/candidates/{cand}/diff"),
                            ("run page (HTML)", "/runs/{run}")]:
        for size, run in (("small", small), ("big", big)):
            url = template.format(run=run, cand=best)
            results[(label, size)] = measure(client, url, args.repeat)
    print(f"| endpoint | 100 children: cold / warm ms | {args.children:,} children: cold / warm ms |")
    print("|---|---|---|")
    for label in dict.fromkeys(k[0] for k in results):
        (sc, sw), (bc, bw) = results[(label, "small")], results[(label, "big")]
        print(f"| {label} | {sc:.0f} / {sw:.0f} | {bc:.0f} / {bw:.0f} |")
    print(json.dumps({f"{k[0]} ({k[1]})": [round(v, 1) for v in t] for k, t in results.items()}))


if __name__ == "__main__":
    main()
