"""api/serving.py: a TCP listening socket (so asyncio turns Nagle off) and several worker processes on one port."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.serving import run_workers, tcp_listening_socket
from tests.utils.live_server import free_port, wait_until_answering

REPO = Path(__file__).resolve().parents[2]


def test_the_listening_socket_is_tcp_so_accepted_connections_get_nodelay() -> None:
    sock = tcp_listening_socket("127.0.0.1", 0)
    try:
        # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP (uvicorn issue #3149)
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.type == socket.SOCK_STREAM
        assert sock.get_inheritable()
        sock.listen()
        with socket.create_connection(sock.getsockname()):
            accepted, _ = sock.accept()
            with accepted:
                assert accepted.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def test_one_worker_is_not_a_supervisor_job() -> None:
    with pytest.raises(ValueError, match="workers: 1 given"):
        run_workers("tests.api.serving_apps:pid_app", "127.0.0.1", free_port(), 1)


@pytest.fixture
def two_workers() -> Iterator[str]:
    """``run_workers`` with two processes of the pid app, in a child process; its base URL."""
    port = free_port()
    code = f"from api.serving import run_workers; run_workers('tests.api.serving_apps:pid_app', '127.0.0.1', {port}, 2)"
    child = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{base}/pid", child, 60)
        yield base
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            raise


def test_a_blocked_worker_leaves_the_port_to_the_other(two_workers: str, tmp_path: Path) -> None:
    started = tmp_path / "blocking"
    blocked: dict[str, int] = {}

    def hold() -> None:
        blocked.update(httpx.get(f"{two_workers}/block", params={"started": str(started)}, timeout=30).json())

    holder = threading.Thread(target=hold)
    holder.start()
    deadline = time.monotonic() + 20
    while not started.exists():  # the worker that took /block now sleeps with its loop held
        assert time.monotonic() < deadline, "the /block request reached no worker"
        time.sleep(0.01)
    free = httpx.get(f"{two_workers}/pid", timeout=10).json()
    holder.join()
    assert blocked["pid"] != free["pid"]
