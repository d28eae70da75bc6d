"""`xinyi serve` with XINYI_WORKERS=2 on a built demo region: two worker processes behind one port, each loading
the champion, answering a bank's score; SIGTERM stops them all."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import psutil
import pytest

from api.pipeline import DemoPipeline
from tests.reliability.conftest import REPO, Region
from tests.utils.live_server import free_port, wait_until_answering

pytestmark = pytest.mark.slow


def test_two_workers_serve_the_champion_and_stop_together(region: Region) -> None:
    accounts = DemoPipeline(region.settings).database()
    bank, enterprise = accounts.by_label("bank_a"), accounts.by_label("enterprise_1")
    port = free_port()
    env = {**region.env, "XINYI_WORKERS": "2", "XINYI_PORT": str(port)}
    server = subprocess.Popen([sys.executable, "-m", "api.cli", "serve"], cwd=REPO, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{base}/readyz", server, 300)
        workers = psutil.Process(server.pid).children(recursive=True)
        assert len([w for w in workers if "spawn_main" in " ".join(w.cmdline())]) == 2  # not the resource tracker
        for _ in range(4):  # fresh connections, whichever worker takes each
            answer = httpx.post(f"{base}/v1/scores", json={"uscc": enterprise.uscc},
                                headers={"Authorization": f"Bearer {bank.key}"}, timeout=30)
            assert answer.status_code == 200, answer.text
            assert answer.json()["uscc"] == enterprise.uscc
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    _, alive = psutil.wait_procs(workers, timeout=15)  # the resource tracker leaves once its pipe closes
    assert not [w for w in alive if w.status() != psutil.STATUS_ZOMBIE]
