"""The loop with a slow model, as a user runs it: `evolve run` through the CLI against a stub OpenAI-compatible
server on 127.0.0.1 that answers every request after --latency seconds.

Usage: python benchmarks/slow_model_loop.py [-n 512] [--in-flight 128] [--latency 2] [--py-spy FILE]
                                            [-- EXTRA evolve run FLAGS, e.g. --eval-concurrency 6]

Prints candidates per second (start-up included) against the ideal in-flight / latency, and the CPU the whole
process tree used per candidate. --py-spy FILE records the run and its subprocesses (raw stacks) for a profile.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from compare_openevolve import reply, write_tasks  # noqa: E402
from tests.support.chat_server import ChatServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=512, help="children (512)")
    parser.add_argument("--in-flight", type=int, default=128, help="model requests at once (128)")
    parser.add_argument("--latency", type=float, default=2.0, help="seconds the stub takes per answer (2)")
    parser.add_argument("--py-spy", type=Path, help="record a raw py-spy profile of the run into this file")
    parser.add_argument("extra", nargs="*", help="more `evolve run` flags (after --)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ChatServer(replies=reply, latency_s=args.latency) as server:
        _, task = write_tasks(Path(tmp))
        argv = [sys.executable, "-m", "evolve", "run", str(task), "--model",
                f"openai:stub-model@{server.openai_base_url}", "-n", str(args.n), "--llm-concurrency",
                str(args.in_flight), "-q", "--storage", f"sqlite:///{tmp}/bench.db", *args.extra]
        if args.py_spy:
            argv = ["py-spy", "record", "-o", str(args.py_spy), "-f", "raw", "-r", "50", "--subprocesses", "--",
                    *argv]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "unused"}
        start = time.time()
        proc = subprocess.run(argv, env=env, capture_output=True, text=True)
        wall = time.time() - start
    if proc.returncode != 0:
        raise SystemExit(f"evolve run failed:\n{proc.stderr[-2000:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_ms = (usage.ru_utime + usage.ru_stime) / args.n * 1e3
    print(f"{args.n} children in {wall:.1f} s: {args.n / wall:.1f} candidates/s (ideal "
          f"{args.in_flight / args.latency:.0f}/s); process tree CPU {cpu_ms:.1f} ms per candidate; largest process "
          f"{usage.ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
