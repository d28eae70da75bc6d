"""SQLite WAL checkpoints run in a background thread, not inside request commits (api/db/checkpoints.py).

What is checked is the mechanism, not a timing: request connections no longer checkpoint at SQLite's default
1,000 pages, the checkpointer copies the whole log so the next writer starts it from the beginning, the thread
runs for the app's lifetime, and nothing of this applies to PostgreSQL, in-memory SQLite or interval 0.
"""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, text

from api.app import create_app
from api.db import make_engine, migrate
from api.db.checkpoints import BACKSTOP_PAGES, WalCheckpointer, attach_checkpointer
from config.settings import Settings
from tests.api.conftest import TEST_SECRET
from tests.api.factories import FakeScorer

PAGE = 4096
SQLITE_DEFAULT_AUTOCHECKPOINT = 1000


def _write_pages(engine: Engine, commits: int, blobs_per_commit: int = 4) -> None:
    """About ``commits`` × ``blobs_per_commit`` pages, one commit at a time as requests commit."""
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS filler (b BLOB)"))
    for _ in range(commits):
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO filler (b) VALUES (randomblob(:n))"),
                               [{"n": PAGE - 100}] * blobs_per_commit)


def _wal_bytes(database: Path) -> int:
    wal = database.with_name(database.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def _sqlite_engine(tmp_path: Path) -> tuple[Engine, Path]:
    database = tmp_path / "checkpoints.db"
    migrate(f"sqlite:///{database}")
    return make_engine(f"sqlite:///{database}"), database


def test_request_connections_leave_routine_checkpoints_to_the_thread(tmp_path: Path) -> None:
    engine, database = _sqlite_engine(tmp_path)
    checkpointer = attach_checkpointer(engine, 1.0)
    try:
        assert checkpointer is not None
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA wal_autocheckpoint")).scalar_one() == BACKSTOP_PAGES
        _write_pages(engine, commits=400)  # ~1,600 pages: past SQLite's default threshold, below the backstop

        # no commit checkpointed: the log holds every page written (with the default it restarts at ~1,000)
        assert _wal_bytes(database) > 1.3 * SQLITE_DEFAULT_AUTOCHECKPOINT * PAGE
        done = checkpointer.checkpoint_round()
        assert done.copied_all and done.log_pages > SQLITE_DEFAULT_AUTOCHECKPOINT

        # the whole log is in the database file, so the next writer starts the log from the beginning
        _write_pages(engine, commits=1)
        after = checkpointer.checkpoint_pass()
        assert 0 < after.log_pages < 20
    finally:
        if checkpointer is not None:
            checkpointer.stop()
        engine.dispose()


def test_without_the_thread_sqlite_checkpoints_inside_commits(tmp_path: Path) -> None:
    """The contrast: a plain engine's commits checkpoint at 1,000 pages, so the log never grows past it."""
    engine, database = _sqlite_engine(tmp_path)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA wal_autocheckpoint")).scalar_one() == SQLITE_DEFAULT_AUTOCHECKPOINT
        _write_pages(engine, commits=400)
        assert _wal_bytes(database) < 1.3 * SQLITE_DEFAULT_AUTOCHECKPOINT * PAGE
    finally:
        engine.dispose()


def test_the_thread_keeps_the_log_checkpointed_while_it_runs_and_stops_cleanly(tmp_path: Path) -> None:
    engine, _ = _sqlite_engine(tmp_path)
    checkpointer = attach_checkpointer(engine, 0.05)
    assert checkpointer is not None
    try:
        checkpointer.start()
        assert checkpointer.running
        _write_pages(engine, commits=50)
        deadline = time.monotonic() + 30
        while (checkpointer.last is None or not checkpointer.last.copied_all
               or checkpointer.last.log_pages < 50) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checkpointer.last is not None and checkpointer.last.copied_all
    finally:
        checkpointer.stop()
        engine.dispose()
    assert not checkpointer.running
    passes = checkpointer.passes
    checkpointer.stop()  # stopping twice is harmless
    assert checkpointer.passes >= passes


def test_the_app_runs_the_checkpointer_for_its_lifetime_and_reports_it(tmp_path: Path) -> None:
    database = tmp_path / "app.db"
    settings = Settings(env="test", secret_key=SecretStr(TEST_SECRET), database_url=f"sqlite:///{database}",
                        sqlite_checkpoint_seconds=0.05)
    migrate(settings.resolved_database_url)
    app = create_app(settings, score_provider=FakeScorer())
    checkpointer: WalCheckpointer = app.state.wal_checkpointer
    with TestClient(app) as client:
        assert checkpointer.running
        deadline = time.monotonic() + 30
        while checkpointer.passes == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        metrics = client.get("/metrics").text
    assert not checkpointer.running
    assert 'xinyi_sqlite_checkpoint_passes_total{outcome="done"}' in metrics
    assert "xinyi_sqlite_wal_pages" in metrics


def test_no_checkpointer_for_postgresql_memory_or_interval_zero(database_url: str, tmp_path: Path) -> None:
    engine = make_engine(database_url)
    memory = make_engine("sqlite://")
    try:
        expected_file = engine.dialect.name == "sqlite"
        assert (attach_checkpointer(engine, 1.0) is not None) == expected_file
        assert attach_checkpointer(make_engine(f"sqlite:///{tmp_path}/zero.db"), 0) is None
        assert attach_checkpointer(memory, 1.0) is None
    finally:
        engine.dispose()
        memory.dispose()
