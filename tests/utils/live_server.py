"""Waiting for a server started in a child process, for tests that serve over real sockets."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx


def free_port() -> int:
    """A loopback port free at the time of asking."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_answering(url: str, server: subprocess.Popen[bytes], seconds: float) -> None:
    """Return once ``GET url`` answers 200; fail if ``server`` exits first or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert server.poll() is None, f"the server exited (status {server.returncode}) before {url} answered"
        assert time.monotonic() < deadline, f"{url} did not answer 200 within {seconds:g} s"
        time.sleep(0.2)
