"""Soak: hold 70 % of measured capacity on ``POST /v1/scores`` for ten minutes ([reliability] targets).

Sets up the server exactly as bench/api_load.py does (its trained model, a temporary SQLite database with
enterprises, grants and one bank key, uvicorn with ``--workers`` processes on loopback, rate limit off), then:

1. capacity: the closed loop at ``--concurrency`` clients for ``--capacity-seconds``, in requests a second;
2. soak: the open loop (Poisson arrivals, latency from the planned send time) at ``--load`` × capacity, one
   minute at a time for ``--minutes``, printing each minute's p50, p99 and non-200 answers and the resident
   memory of the server's process tree (uvicorn and its workers, psutil) at the end of the minute, and what
   tells a stall's cause: the answers in the minute's slowest second and the seconds answering under half the
   offered rate, the server's CPU, the machine's CPU and IO pressure (Linux PSI: another process taking the
   cores, or a disk flush), the server's background WAL checkpoint time (its /metrics), the WAL and database
   size, and the load average. ``XINYI_SQLITE_CHECKPOINT_SECONDS=0`` in the environment serves with SQLite's
   checkpoints back inside request commits, for comparison.

Targets: no error over the whole soak; server memory at the end within 10 % of its level after the first
minute (warm caches, connections open). Usage::

    .venv/bin/python bench/api_soak.py [--minutes 10] [--load 0.7] [--workers N] [--model-cache DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api_load import bench_profiles, seed_database, server_environment  # bench/api_load.py: the same service
from http_load import closed_loop, free_port, ms, open_loop, start_server, tree_cpu_seconds  # and load generator

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


def file_mb(database: Path, suffix: str) -> str:
    """Size of the SQLite database file (``suffix`` ''), or its ``-wal`` log, in MB; '-' when there is none."""
    path = database.with_name(database.name + suffix)
    return f"{path.stat().st_size / 1e6:.1f}" if path.exists() else "-"


def pressure_seconds(kind: str) -> float | None:
    """Seconds so far in which some task waited for ``kind`` (``cpu`` or ``io``), from Linux pressure stall
    information; None where the kernel does not provide it."""
    try:
        first = Path(f"/proc/pressure/{kind}").read_text().splitlines()[0]
    except OSError:
        return None
    return int(first.rsplit("total=", 1)[1]) / 1e6


def listen_overflows() -> int | None:
    """Connection attempts the kernel dropped so far because a listening socket's accept queue was full
    (``TcpExt ListenOverflows``, machine-wide). Each drop makes the client resend its SYN after 1, 3, 7, 15 … s,
    so a few of them put multi-second latencies into a minute whose server was never stalled."""
    try:
        lines = [line.split() for line in Path("/proc/net/netstat").read_text().splitlines()
                 if line.startswith("TcpExt:")]
    except OSError:
        return None
    if len(lines) < 2 or "ListenOverflows" not in lines[0]:
        return None
    return int(lines[1][lines[0].index("ListenOverflows")])


def checkpoint_seconds(base: str) -> float | None:
    """Seconds the server's background WAL checkpoints have taken so far (its /metrics), if it reports them."""
    try:
        text = httpx.get(f"{base}/metrics", timeout=5).text
    except httpx.HTTPError:
        return None
    for line in text.splitlines():
        if line.startswith("xinyi_sqlite_checkpoint_seconds_total "):
            return float(line.split()[1])
    return None


@dataclass
class Gauges:
    """What the machine and the server did over one minute, besides latency: evidence for a stall's cause."""

    cpu: float | None = None
    cpu_pressure: float | None = None
    io_pressure: float | None = None
    checkpoints: float | None = None
    overflows: int | None = None

    @classmethod
    def read(cls, pid: int, base: str) -> Gauges:
        return cls(tree_cpu_seconds(pid), pressure_seconds("cpu"), pressure_seconds("io"), checkpoint_seconds(base),
                   listen_overflows())

    def dropped(self, later: Gauges) -> str:
        """Connection attempts dropped by full accept queues over the minute (machine-wide), or '-'."""
        return "-" if self.overflows is None or later.overflows is None else str(later.overflows - self.overflows)

    def share(self, later: Gauges, name: str, seconds: float) -> str:
        """``name`` over the minute, as a share of it (CPU in cores, pressure and checkpoints in %)."""
        before, after = getattr(self, name), getattr(later, name)
        if before is None or after is None:
            return "-"
        value = (after - before) / seconds
        return f"{value:.2f}" if name == "cpu" else f"{value * 100:.0f}"


def answers_per_second(answered_at: list[float], started: float, seconds: int) -> list[int]:
    """Answers in each whole second of the minute (from the answers' arrival times)."""
    counts = [0] * seconds
    for at in answered_at:
        slot = int(at - started)
        if 0 <= slot < seconds:
            counts[slot] += 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--load", type=float, default=0.7, help="share of the measured capacity offered")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="server worker processes (default one per core, as bench/api_load.py: %(default)s here)")
    parser.add_argument("--concurrency", type=int, default=8, help="closed-loop clients measuring capacity")
    parser.add_argument("--capacity-seconds", type=float, default=20.0)
    parser.add_argument("--enterprises", type=int, default=500)
    parser.add_argument("--champion", action="store_true", help="serve the registry's champion (no training)")
    parser.add_argument("--model-cache", type=Path, help="keep the trained model here for the next run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="xinyi-api-soak-") as tmp:
        env, service = server_environment(Path(tmp), champion=args.champion, model_cache=args.model_cache)
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
            print("per minute: answers/s in its slowest second, seconds answering under half the offered rate, "
                  "server CPU (cores), CPU and IO pressure (% of the minute some task waited), background "
                  "checkpoints (% of the minute), WAL and database size, load average, connection attempts "
                  "dropped by a full accept queue (SYN resent after 1, 3, 7 … s)")
            print(f"{'minute':>6} {'sent':>7} {'p50 ms':>7} {'p99 ms':>7} {'non-200':>8} {'server MiB':>11} "
                  f"{'min/s':>6} {'s<½':>4} {'cpu':>5} {'cpu%':>5} {'io%':>4} {'ckpt%':>5} {'WAL MB':>7} "
                  f"{'DB MB':>7} {'load':>5} {'SYN drops':>9}")
            statuses = Counter(failures)  # 0: no answer within the client's timeout
            memory, worst_p99, by_minute, stalls = [], 0.0, [], []
            database = Path(env["XINYI_DATABASE_URL"].removeprefix("sqlite:///"))
            for minute in range(1, args.minutes + 1):
                answered_at: list[float] = []
                before, started = Gauges.read(server.pid, base), time.perf_counter()
                latencies, failures, sent = asyncio.run(open_loop(base, key, usccs, rate, 60.0, answered_at))
                after = Gauges.read(server.pid, base)
                seconds = time.perf_counter() - started
                per_second = answers_per_second(answered_at, started, 60)
                slow = sum(count < rate / 2 for count in per_second)
                stalls.append(slow)
                statuses.update(failures)
                memory.append(tree_rss_mib(server.pid))
                worst_p99 = max(worst_p99, ms(latencies, 99))
                by_minute.append(f"{ms(latencies, 50):.1f}/{ms(latencies, 99):.1f}")
                print(f"{minute:>6} {sent:>7} {ms(latencies, 50):>7.2f} {ms(latencies, 99):>7.2f} "
                      f"{len(failures):>8} {memory[-1]:>11,.0f} {min(per_second):>6} {slow:>4} "
                      f"{before.share(after, 'cpu', seconds):>5} {before.share(after, 'cpu_pressure', seconds):>5} "
                      f"{before.share(after, 'io_pressure', seconds):>4} "
                      f"{before.share(after, 'checkpoints', seconds):>5} {file_mb(database, '-wal'):>7} "
                      f"{file_mb(database, ''):>7} {os.getloadavg()[0]:>5.1f} {before.dropped(after):>9}", flush=True)
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
    record("seconds answering under half the offered rate", sum(stalls), "s",
           note=f"by minute: {', '.join(map(str, stalls))}; load average at the end "
                f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    record("server memory after the first minute", memory[0], "MiB", note=f"{memory[-1]:,.0f} MiB at the end")
    return 0 if errors == 0 and growth <= MEMORY_GROWTH_TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
