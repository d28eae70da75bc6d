"""SQLite WAL checkpoints off the request path: a background thread copies the log into the database file.

By default SQLite checkpoints inside the commit that takes the log past 1,000 pages: that commit copies the log
into the database file and flushes both to disk (two ``fdatasync`` calls) before it returns. On SQLite the
service runs each request on the event loop (``api.deps.run_db``), so while that flush waits on a busy disk,
every request of the worker waits with it. Here the routine checkpoints move to a daemon thread on a
connection of its own (``PRAGMA wal_checkpoint(PASSIVE)``, which never blocks readers or writers, with the GIL
released while it copies and flushes); the requests' own automatic checkpoint is raised to
``BACKSTOP_PAGES``, a backstop that bounds the log if the thread cannot restart it (docs/operations.md).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

log = logging.getLogger(__name__)

BACKSTOP_PAGES = 10_000
"""The requests' own automatic checkpoint (``PRAGMA wal_autocheckpoint``), in pages (40 MB at 4 KiB). Under
steady writes the log can reach it (see ``PASSES_PER_ROUND``): the commit that does then copies only what was
written since the thread's last pass and restarts the log; one such commit per 10,000 pages written, instead
of a full checkpoint per 1,000 (SQLite's default)."""
JOURNAL_SIZE_LIMIT_BYTES = 64 * 2**20
"""After a log restart, a log file larger than this is truncated to it (``PRAGMA journal_size_limit``), so a
burst that grew the log does not leave the file that large."""
PASSES_PER_ROUND = 8
"""Passes a round makes at most. A pass copies the log as far as it stood when the pass began; commits made
meanwhile are left for the next. The log starts again from the beginning (instead of growing) only when a
writer begins after everything is copied, so a round repeats the (by then short) pass until one finds nothing
new. Under steady writes that can fail; the backstop then restarts the log at ``BACKSTOP_PAGES``."""
SLOW_CHECKPOINT_SECONDS = 1.0
"""A pass slower than this is logged as a warning: the disk is slow (a request-path checkpoint would have
stalled every request of the worker that long)."""


@dataclass(frozen=True)
class CheckpointPass:
    """The result of one ``PRAGMA wal_checkpoint(PASSIVE)``: whether another checkpointer held the lock, the
    log's length and how much of it is now in the database file (pages), and the pass's duration."""

    busy: bool
    log_pages: int
    checkpointed_pages: int
    seconds: float

    @property
    def copied_all(self) -> bool:
        """True when the log, as it stood when the pass began, is wholly in the database file."""
        return not self.busy and self.checkpointed_pages >= self.log_pages


def sqlite_file(engine: Engine) -> Path | None:
    """The database file of a file-backed SQLite engine; None for other databases and in-memory SQLite."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _raise_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    """Request connections checkpoint only as a backstop; the checkpointer thread does the routine ones."""
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
    cursor.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT_BYTES}")
    cursor.close()


class WalCheckpointer:
    """Checkpoints a SQLite database in WAL mode every ``interval`` seconds from a daemon thread.

    ``checkpoint_round`` is one round, callable directly; ``start`` and ``stop`` run rounds in the thread until
    stopped (a last round at stop). Counters (``passes``, ``busy_passes``, ``seconds_total``, ``last``) feed the
    metrics (``api.metrics``).
    """

    def __init__(self, database: Path, interval: float) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive: 0 means no checkpointer (see attach_checkpointer)")
        self.database = database
        self.interval = interval
        self.passes = 0
        self.busy_passes = 0
        self.seconds_total = 0.0
        self.last: CheckpointPass | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            # isolation_level=None: autocommit, so the checkpointer never holds a transaction that pins the log
            # mode=rw: never create the file (the service needs a migrated database)
            self._connection = sqlite3.connect(f"{self.database.resolve().as_uri()}?mode=rw", uri=True,
                                               isolation_level=None, check_same_thread=False)
        return self._connection

    def checkpoint_pass(self) -> CheckpointPass:
        """One passive checkpoint: copies what it can of the log, waiting for no reader or writer."""
        started = time.perf_counter()
        row = self._connect().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        done = CheckpointPass(bool(row[0]), int(row[1]), int(row[2]), time.perf_counter() - started)
        self.passes += 1
        self.busy_passes += done.busy
        self.seconds_total += done.seconds
        self.last = done
        if done.seconds > SLOW_CHECKPOINT_SECONDS:
            log.warning("SQLite checkpoint of %d pages took %.1f s (slow disk); requests were not held",
                        done.log_pages, done.seconds)
        return done

    def checkpoint_round(self) -> CheckpointPass:
        """Passes until one finds no page written since the one before and copies all (so the next writer
        starts the log from the beginning), or ``PASSES_PER_ROUND``; returns the last pass."""
        done = self.checkpoint_pass()
        for _ in range(PASSES_PER_ROUND - 1):
            if done.busy:
                break
            again = self.checkpoint_pass()
            if again.log_pages == done.log_pages and again.copied_all:
                return again
            done = again
        return done

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.checkpoint_round()
            except sqlite3.Error:  # a locked or vanished file: try again next round, never kill the thread
                log.exception("SQLite checkpoint failed; retrying in %.1f s", self.interval)

    def start(self) -> None:
        """Run rounds every ``interval`` seconds in a daemon thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sqlite-wal-checkpointer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after its current round, run a last round, and close the connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            if self._connection is not None:
                self.checkpoint_round()
        except sqlite3.Error:
            log.exception("the last SQLite checkpoint failed")
        finally:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    @property
    def running(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.is_alive()


def attach_checkpointer(engine: Engine, interval: float) -> WalCheckpointer | None:
    """For a file-backed SQLite engine and ``interval`` > 0: raise its connections' automatic checkpoint to the
    backstop and return a checkpointer for its file (not started). None otherwise: PostgreSQL checkpoints on
    its own, an in-memory database has no log, and ``interval`` 0 keeps SQLite's checkpoints in the commits."""
    database = sqlite_file(engine)
    if database is None or interval <= 0:
        return None
    event.listen(engine, "connect", _raise_autocheckpoint)
    return WalCheckpointer(database, interval)
