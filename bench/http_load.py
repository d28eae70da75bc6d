"""The HTTP side of the API benches: a uvicorn server started on loopback and left idle before it is measured, and
a lean load generator on raw asyncio streams (closed loop at fixed concurrency, open loop at a fixed rate) whose
every answer is read in full and checked. Used by ``bench/api_load.py`` and ``bench/api_soak.py``."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.app import freeze_startup_heap
from api.serving import run_workers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def serve(app: str, port: int, workers: int) -> None:
    """uvicorn serving the factory ``app`` on 127.0.0.1:``port`` with ``workers`` processes (run in the server's
    own process, see ``start_server``): as ``xinyi serve`` does, several workers share a TCP socket made by
    ``api.serving`` (uvicorn's own ``--workers`` would leave Nagle's algorithm on every connection)."""
    import uvicorn

    if workers > 1:
        run_workers(app, "127.0.0.1", port, workers)
        return
    config = uvicorn.Config(app, factory=True, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    uvicorn.Server(config).run()


def start_server(env: dict[str, str], workers: int, port: int, app: str = "api_load:served_app"
                 ) -> subprocess.Popen[bytes]:
    """uvicorn with ``workers`` processes on loopback (``serve``); returns once /readyz answers 200."""
    here = Path(__file__).resolve().parent
    command = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(here)!r}); import http_load; "
               f"http_load.serve({app!r}, {port}, {workers})"]
    server = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                try:
                    settle(server.pid, deadline)
                except SystemExit:
                    server.terminate()  # not left serving after the bench gives up on it
                    raise
                return server
        except httpx.TransportError:
            pass
        if server.poll() is not None:
            raise SystemExit("the server exited while starting")
        time.sleep(0.3)
    server.terminate()
    raise SystemExit("the server did not become ready in 120 s")


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and all its children so far."""
    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def settle(pid: int, deadline: float, window_s: float = 0.5, idle_share: float = 0.05) -> None:
    """Wait until the server's process tree is idle (under ``idle_share`` of a core over ``window_s``): /readyz
    answers as soon as one worker is up, while the others may still be loading the model, which took a core from
    the first and slowed the first seconds of the load (an open-loop p99 of 322 ms with two workers, 6 Dec)."""
    before = tree_cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(window_s)
        now = tree_cpu_seconds(pid)
        if now - before < idle_share * window_s:
            return
        before = now
    raise SystemExit("the server did not settle (its processes kept the CPU busy) before the start-up deadline")


def _endpoint(base: str) -> tuple[str, int]:
    host, _, port = base.removeprefix("http://").partition(":")
    return host, int(port)


def score_request(host: str, port: int, key: str, uscc: str) -> bytes:
    """One ``POST /v1/scores`` as it goes on the wire, built once and sent as many times as needed."""
    body = json.dumps({"uscc": uscc}).encode()
    head = (f"POST /v1/scores HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


class Connection:
    """One keep-alive HTTP/1.1 connection on raw asyncio streams (TCP_NODELAY): the leanest honest client, so the
    generator, which shares the cores with the server, takes as little of them as it can. Every answer is read
    in full and checked: status 200 and a JSON body naming the enterprise asked about with a score field."""

    KEEP_ALIVE_S = 4.0
    """Reuse a connection only when idle less than this: uvicorn closes keep-alive connections idle for 5 s, and
    a request written into a connection the server is closing gets no answer (an error the server never saw)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.last_used = time.monotonic()

    def fresh(self) -> bool:
        """True while the server still keeps this connection open for us."""
        return time.monotonic() - self.last_used < self.KEEP_ALIVE_S

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def send(self, request: bytes, uscc: str) -> int:
        """Send one pre-built request; the answer's status, or 0 when its body is not the score asked for."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = next((int(v) for k, _, v in (line.partition(":") for line in lines[1:])
                       if k.lower() == "content-length"), None)
        if length is None:
            raise ConnectionError("an answer without Content-Length")
        body = json.loads(await self.reader.readexactly(length))
        self.last_used = time.monotonic()
        if status == 200 and (body.get("uscc") != uscc or "score" not in body):
            return 0
        return status

    def close(self) -> None:
        self.writer.close()


def quiet_generator() -> None:
    """Freeze the load generator's own heap before a load phase (``api.app.freeze_startup_heap``, as the server
    does): this process holds the trained model and the profile frames, and a full collection here walked them in
    100-210 ms, landing in the measured latencies of whichever requests were in flight (an open-loop p99 of 17 or
    110 ms at 200 req/s by chance, on every commit alike; docs/operations.md, load and soak)."""
    freeze_startup_heap()


async def warm_every_worker(host: str, port: int, requests: list[bytes], usccs: list[str], connections: int = 32
                            ) -> None:
    """A request on each of ``connections`` connections opened at once, before a timed phase: every worker process
    then has verified the bank's key (argon2, about 200 ms, once per key and cache period in each worker) and run
    the scoring path once. Sequential warm-up connections could all land on one worker, leaving the other to pay
    that inside the timed phase (the first request each worker served took 220-240 ms, 6 Dec)."""
    opened = await asyncio.gather(*(Connection.open(host, port) for _ in range(connections)))
    try:
        await asyncio.gather(*(c.send(requests[i % len(usccs)], usccs[i % len(usccs)]) for i, c in enumerate(opened)))
    finally:
        for connection in opened:
            connection.close()


async def _one(connection: Connection, request: bytes, uscc: str, latencies: list[float],
               failures: list[int]) -> None:
    started = time.perf_counter()
    status = await connection.send(request, uscc)
    latencies.append(time.perf_counter() - started)
    if status != 200:
        failures.append(status)


async def _prepared(base: str, key: str, usccs: list[str]) -> tuple[str, int, list[bytes]]:
    """Before a load phase: the generator's heap frozen, one request built per enterprise, every worker warm."""
    quiet_generator()
    host, port = _endpoint(base)
    requests = [score_request(host, port, key, u) for u in usccs]
    await warm_every_worker(host, port, requests, usccs)
    return host, port, requests


async def _warm_connections(host: str, port: int, n: int, requests: list[bytes], usccs: list[str]
                            ) -> list[Connection]:
    """``n`` open connections, warmed by 50 requests between them (connections, caches), none of them counted."""
    connections = [await Connection.open(host, port) for _ in range(n)]
    for i in range(50):
        await _one(connections[i % n], requests[i % len(usccs)], usccs[i % len(usccs)], [], [])
    return connections


async def closed_loop(base: str, key: str, usccs: list[str], concurrency: int, seconds: float
                      ) -> tuple[list[float], list[int], float]:
    """``concurrency`` clients, each on its own connection, sending its next request when the answer arrives."""
    host, port, requests = await _prepared(base, key, usccs)
    latencies: list[float] = []
    failures: list[int] = []
    connections = await _warm_connections(host, port, concurrency, requests, usccs)
    stop = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        i = offset
        while time.perf_counter() < stop:
            await _one(connections[offset], requests[i % len(usccs)], usccs[i % len(usccs)], latencies, failures)
            i += concurrency

    started = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(concurrency)))
    elapsed = time.perf_counter() - started
    for connection in connections:
        connection.close()
    return latencies, failures, elapsed


async def open_loop(base: str, key: str, usccs: list[str], rate: float, seconds: float,
                    answered_at: list[float] | None = None, lateness: list[float] | None = None
                    ) -> tuple[list[float], list[int], int]:
    """Requests sent at Poisson arrivals of ``rate`` a second whatever the answers, each on an idle connection
    (a new one when all are busy); latency from the planned send time, so a stalled server is not hidden by a
    stalled generator (coordinated omission). ``answered_at`` (if given) gets each answer's arrival time
    (``time.perf_counter``), for answers per second; ``lateness`` how long after its planned time each request
    started on its way (the generator's own timer and work, counted in the latencies)."""
    host, port, requests = await _prepared(base, key, usccs)
    latencies: list[float] = []
    failures: list[int] = []
    idle = await _warm_connections(host, port, 8, requests, usccs)
    rng = random.Random(7)

    async def timed(i: int, at: float) -> None:
        if lateness is not None:
            lateness.append(time.perf_counter() - at)
        connection = None
        while idle and connection is None:  # the most recently used first; stale ones are closed, not reused
            candidate = idle.pop()
            if candidate.fresh():
                connection = candidate
            else:
                candidate.close()
        if connection is None:
            connection = await Connection.open(host, port)
        try:
            status = await connection.send(requests[i % len(usccs)], usccs[i % len(usccs)])
        except (OSError, asyncio.IncompleteReadError, ValueError):
            failures.append(0)  # no (well-formed) answer
            connection.close()
            return
        answered = time.perf_counter()
        latencies.append(answered - at)
        if answered_at is not None:
            answered_at.append(answered)
        idle.append(connection)
        if status != 200:
            failures.append(status)

    tasks = []
    started = time.perf_counter()
    planned = started
    i = 0
    while planned < started + seconds:
        planned += rng.expovariate(rate)
        delay = planned - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(timed(i, planned)))
        i += 1
    await asyncio.gather(*tasks)
    for connection in idle:
        connection.close()
    return latencies, failures, i


def ms(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1e3


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


