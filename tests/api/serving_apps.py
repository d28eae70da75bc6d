"""Tiny app factories for tests/api/test_serving.py, imported by name in uvicorn's worker processes."""

from __future__ import annotations

import os
import time
from pathlib import Path

from fastapi import FastAPI


def pid_app() -> FastAPI:
    """``GET /pid`` answers the serving process's id; ``GET /block?started=FILE`` creates FILE, then holds that
    process's event loop for two seconds, so a request sent meanwhile can only be answered by another worker."""
    app = FastAPI()

    @app.get("/pid")
    async def pid() -> dict[str, int]:
        return {"pid": os.getpid()}

    @app.get("/block")
    async def block(started: str) -> dict[str, int]:
        Path(started).touch()
        time.sleep(2.0)  # blocks this worker's loop on purpose
        return {"pid": os.getpid()}

    return app
