"""Store writes under concurrent runs: 8 writer processes at once on SQLite vs PostgreSQL.

Each writer is a process with its own Store writing children the way a run does (one transaction per child with
its LLM call and evaluation; tests/support/store_writers.py), to its own run. Reported per backend: children/s
of all writers together, p50 and p99 latency of one child's write, and the same for one writer alone as the
baseline measured in the same invocation (figures on a shared machine are noisy; ratios travel better).
PostgreSQL is a throwaway local server (tests/support/postgres.py: Debian's binaries, fsync off as a test
cluster, on 127.0.0.1); SQLite is a file in a temporary folder (WAL, synchronous=NORMAL).

    python benchmarks/store_scale.py                  # 8 writers x 200 children, then 1 writer x 200
    python benchmarks/store_scale.py --writers 16 --children 500
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evolve.store import Store  # noqa: E402
from tests.support.postgres import running_server  # noqa: E402
from tests.support.store_writers import WriterJob, new_run, run_writers  # noqa: E402


def measure(url: str, writers: int, children: int, start_delay_s: float) -> dict[str, float]:
    """Writers start together `start_delay_s` after launch (time for their processes to spawn and connect)."""
    store = Store(url)
    runs = [new_run(store) for _ in range(writers)]
    store.close()
    start_at = time.time() + start_delay_s
    results = run_writers([WriterJob(url, w, (runs[w],), children, start_at) for w in range(writers)])
    if min(r.started for r in results) < start_at - 0.05:
        raise SystemExit("a writer started late: raise --start-delay")
    latencies = sorted(x for r in results for x in r.latencies)
    wall = max(r.ended for r in results) - min(r.started for r in results)
    return {"children_per_s": len(latencies) / wall, "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--children", type=int, default=200, help="children per writer")
    parser.add_argument("--start-delay", type=float, default=8.0, help="seconds for the writers to spawn")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, running_server() as pg:
        for backend, make_url in (("sqlite", lambda n: f"sqlite:///{tmp}/{n}.db"),
                                  ("postgresql", lambda n: pg.new_database())):
            for writers in (1, args.writers):
                figures = measure(make_url(f"{backend}-{writers}"), writers, args.children, args.start_delay)
                rows.append((backend, writers, figures))
    print(f"{'backend':<11} {'writers':>7} {'children/s':>11} {'p50 ms':>7} {'p99 ms':>7}")
    for backend, writers, f in rows:
        print(f"{backend:<11} {writers:>7} {f['children_per_s']:>11.0f} {f['p50_ms']:>7.2f} {f['p99_ms']:>7.2f}")


if __name__ == "__main__":
    main()
