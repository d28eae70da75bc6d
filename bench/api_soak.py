"""Soak: hold 70 % of measured capacity on ``POST /v1/scores`` for ten minutes ([reliability] targets).

Sets up the server exactly as bench/api_load.py does (its trained model, a temporary SQLite database with
enterprises, grants and one bank key, uvicorn with ``--workers`` processes on loopback, rate limit off), then:

1. capacity: the closed loop at ``--concurrency`` clients for ``--capacity-seconds``, in requests a second;
2. soak: the open loop (Poisson arrivals, latency from the planned send time) at ``--load`` × capacity, one
   minute at a time for ``--minutes``, printing each minute's p50, p99 and non-200 answers and the resident
   memory of the server's process tree (uvicorn and its workers, psutil) at the end of the minute.

Targets: no error over the whole soak; server memory at the end within 10 % of its level after the first
minute (warm caches, connections open). Usage::

    .venv/bin/python bench/api_soak.py [--minutes 10] [--load 0.7] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api_load import (  # bench/api_load.py: the same server and load generator
    bench_profiles,
    closed_loop,
    free_port,
    ms,
    open_loop,
    seed_database,
    server_environment,
    start_server,
)

from bench.results import record
from config.settings import Settings

MEMORY_GROWTH_TARGET = 10.0  # per cent


def tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and all its children, in MiB."""
    root = psutil.Process(pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--load", type=float, default=0.7, help="share of the measured capacity offered")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (one: as bench/api_load.py, SQLite)")
    parser.add_argument("--concurrency", type=int, default=8, help="closed-loop clients measuring capacity")
    parser.add_argument("--capacity-seconds", type=float, default=20.0)
    parser.add_argument("--enterprises", type=int, default=500)
    parser.add_argument("--champion", action="store_true", help="serve the registry's champion (no training)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="xinyi-api-soak-") as tmp:
        env, service = server_environment(Path(tmp), champion=args.champion)
        usccs, key = seed_database(Settings(database_url=env["XINYI_DATABASE_URL"]),
                                   bench_profiles(service, args.enterprises))
        port = free_port()
        server = start_server(env, args.workers, port)
        base = f"http://127.0.0.1:{port}"
        try:
            latencies, failures, elapsed = asyncio.run(
                closed_loop(base, key, usccs, args.concurrency, args.capacity_seconds))
            capacity = len(latencies) / elapsed
            rate = args.load * capacity
            print(f"capacity: {capacity:.0f} req/s at concurrency {args.concurrency} ({len(failures)} non-200); "
                  f"soak at {rate:.0f} req/s for {args.minutes} min, {args.workers} workers, {os.cpu_count()} cores")
            print(f"{'minute':>6} {'sent':>7} {'p50 ms':>7} {'p99 ms':>7} {'non-200':>8} {'server MiB':>11}")
            statuses = Counter(failures)  # 0: no answer within the client's timeout
            memory, worst_p99, by_minute = [], 0.0, []
            for minute in range(1, args.minutes + 1):
                latencies, failures, sent = asyncio.run(open_loop(base, key, usccs, rate, 60.0))
                statuses.update(failures)
                memory.append(tree_rss_mib(server.pid))
                worst_p99 = max(worst_p99, ms(latencies, 99))
                by_minute.append(f"{ms(latencies, 50):.1f}/{ms(latencies, 99):.1f}")
                print(f"{minute:>6} {sent:>7} {ms(latencies, 50):>7.2f} {ms(latencies, 99):>7.2f} "
                      f"{len(failures):>8} {memory[-1]:>11,.0f}", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)
    growth = (memory[-1] / memory[0] - 1) * 100
    errors = sum(statuses.values())
    kinds = ", ".join(f"{count} × {'no answer' if code == 0 else code}" for code, count in sorted(statuses.items()))
    print(f"\nerrors: {errors} (target 0{'; ' + kinds if kinds else ''})")
    print(f"server memory {memory[0]:,.0f} → {memory[-1]:,.0f} MiB after the first "
          f"minute: {growth:+.1f} % (target < {MEMORY_GROWTH_TARGET:g} %); worst minute p99 {worst_p99:.2f} ms; "
          f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    record("capacity (closed loop)", capacity, "req/s")
    record(f"offered load, {args.load:.0%} of capacity", rate, "req/s")
    record(f"errors over {args.minutes} min", errors, "responses", 0, "<=",
           note=f"capacity phase included; {kinds}" if kinds else "")
    judged = len(memory) >= 2  # one minute has nothing to compare with its own baseline
    if judged:
        record("server memory growth after the first minute", growth, "%", MEMORY_GROWTH_TARGET, "<=")
    else:
        record("server memory growth after the first minute", growth, "%", note="a one-minute soak: not judged")
    record("worst minute p99", worst_p99, "ms", note=f"p50/p99 ms by minute: {', '.join(by_minute)}")
    record("server memory after the first minute", memory[0], "MiB", note=f"{memory[-1]:,.0f} MiB at the end")
    return 0 if errors == 0 and growth <= MEMORY_GROWTH_TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
