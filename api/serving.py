"""Serving the API with uvicorn: one process, or ``XINYI_WORKERS`` processes sharing one listening socket.

A worker scores one request at a time on its event loop (``api.deps.run_db``), so a machine's cores are used by
processes. Several workers share a socket made here as a TCP socket: uvicorn's own ``--workers`` binds
``socket.socket(AF_INET)``, whose ``proto`` is 0, and asyncio then leaves Nagle's algorithm on every accepted
connection, so each keep-alive answer waits about 40 ms for the client's delayed ACK (uvicorn issue #3149).
"""

from __future__ import annotations

import socket

from fastapi import FastAPI

from config.settings import Settings
from scoring.types import ScoreProvider

WORKER_APP = "api.serving:app_from_environment"
"""The factory each worker process imports: it reads the same ``XINYI_*`` environment as its parent."""


def app_from_environment(settings: Settings | None = None, score_provider: ScoreProvider | None = None) -> FastAPI:
    """The app one serving process serves: ``settings`` (by default from the environment, as a worker reads
    them), ``score_provider`` (by default the registry's champion), start-up heap frozen."""
    from api.app import create_app, freeze_startup_heap
    from config.settings import get_settings
    from scoring.service import ScoreService

    settings = settings or get_settings()
    app = create_app(settings, score_provider or ScoreService.from_registry(settings))
    freeze_startup_heap()
    return app


def tcp_listening_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket (``IPPROTO_TCP``, so asyncio sets TCP_NODELAY on what it accepts), inheritable by the
    worker processes; IPv6 when ``host`` is an IPv6 address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def run_workers(app_factory: str, host: str, port: int, workers: int) -> None:
    """Serve ``app_factory`` (``module:function`` returning the app) with ``workers`` uvicorn processes on one
    TCP socket, until a signal stops the supervisor (which stops the workers). ``workers`` must be at least 2;
    one process is served by ``uvicorn.Server`` directly, without a supervisor."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    if workers < 2:
        raise ValueError(f"workers: {workers} given; run_workers serves two or more processes")
    config = uvicorn.Config(app_factory, factory=True, host=host, port=port, workers=workers,
                            log_level="warning", access_log=False)
    Multiprocess(config, sockets=[tcp_listening_socket(host, port)]).run()
