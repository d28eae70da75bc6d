"""Fixtures of the crash tests: one small demo region per session, copied for each test, and a child to kill."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.pipeline import DemoPipeline
from config.settings import Settings

REPO = Path(__file__).resolve().parents[2]
CHILD_TIMEOUT_S = 600  # a loaded CI machine may take minutes to import MLflow and train
DEMO = {"XINYI_DEMO_ENTERPRISES": "800", "XINYI_SEED": "11", "XINYI_PROMOTION_MAX_ECE": "1"}


@dataclass(frozen=True)
class Region:
    """A built demo region: its settings and the environment a child process needs to see the same."""

    settings: Settings
    env: dict[str, str]

    @property
    def root(self) -> Path:
        return self.settings.region_dir()


def region_at(data_dir: Path) -> Region:
    env = {**os.environ, **DEMO, "XINYI_DATA_DIR": str(data_dir)}
    env.pop("XINYI_DATABASE_URL", None)
    env.pop("XINYI_MLFLOW_TRACKING_URI", None)
    settings = Settings(data_dir=data_dir, demo_enterprises=800, seed=11, promotion_max_ece=1.0)
    return Region(settings, env)


@pytest.fixture(scope="session")
def built_region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo region (800 enterprises) built once: champion v1 trained and served, snapshot, database."""
    data_dir = tmp_path_factory.mktemp("reliability") / "data"
    DemoPipeline(region_at(data_dir).settings).run()
    return data_dir


@pytest.fixture
def region(built_region: Path, tmp_path: Path) -> Region:
    """A private copy of the built region (MLflow's artifacts stay where the session built them)."""
    data_dir = tmp_path / "data"
    shutil.copytree(built_region, data_dir)
    return region_at(data_dir)


def crash_at(
    command: Sequence[str], env: dict[str, str], workdir: Path, *, pause: str | None = None, nth: int = 1,
    after: bool = False, match: str | None = None, pause_sql: str | None = None,
) -> None:
    """Run ``command`` in a child process, wait until it reaches the pause point, then SIGKILL it."""
    marker = workdir / f"paused-{uuid.uuid4().hex[:8]}"
    args = [sys.executable, "-m", "tests.reliability.crash_child", "--marker", str(marker), "--nth", str(nth)]
    args += ["--pause", pause] if pause else []
    args += ["--after"] if after else []
    args += ["--match", match] if match else []
    args += ["--pause-sql", pause_sql] if pause_sql else []
    child = subprocess.Popen([*args, "--", *command], cwd=REPO, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    try:
        while not marker.exists():
            if child.poll() is not None:
                output = child.stdout.read().decode(errors="replace") if child.stdout else ""
                pytest.fail(f"the child ended (status {child.returncode}) before its pause point:\n{output[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail("the child did not reach its pause point in time")
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
        if child.stdout:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL


def run_to_end(command: Sequence[str], env: dict[str, str]) -> str:
    """Run ``command`` in a child process without a pause; it must succeed. Returns its output."""
    done = subprocess.run([sys.executable, "-m", "tests.reliability.crash_child", "--marker", os.devnull,
                           "--", *command], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT_S, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def hidden_leftovers(folder: Path) -> list[str]:
    """Names of the staging, temporary or retired folders and files a crash left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))
