"""Engine and session factory for SQLite (WAL, foreign keys) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import asyncio
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL for concurrent readers, NORMAL sync (safe under WAL), and enforced foreign keys."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # a commit appends to the log; readers never wait for writers
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    """An engine for ``database_url``; SQLite connections get WAL and foreign keys on connect."""
    if database_url.startswith("postgresql"):
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(database_url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def commits_without_waiting(engine: Engine) -> bool:
    """True where a short transaction never waits on anything but this process's CPU: SQLite in WAL mode with
    synchronous=NORMAL commits without an fsync. PostgreSQL commits wait for its WAL flush (and every statement
    for a round trip), so its requests run in threads, where those waits overlap and commits share a flush."""
    return engine.dialect.name == "sqlite"


class SessionSlots:
    """At most ``limit`` request sessions open at once (per event loop): a request waits for a slot on the event
    loop, holding nothing, before it opens a session.

    Without it, under overload every pooled connection ends up held by a request that is waiting for a thread
    for its next step, while every thread waits for a connection: nothing moves until the pool's 30 s timeout.
    ``limit`` below the pool's size plus overflow leaves connections for the audit writer.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._by_loop: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = WeakKeyDictionary()

    @classmethod
    def for_engine(cls, engine: Engine) -> SessionSlots:
        """As many slots as the engine's pool keeps connections (its overflow left to other sessions)."""
        size = getattr(engine.pool, "size", None)
        return cls(max(1, size()) if callable(size) else 5)

    def semaphore(self) -> asyncio.Semaphore:
        """The running loop's semaphore (tests run apps on more than one loop)."""
        loop = asyncio.get_running_loop()
        slots = self._by_loop.get(loop)
        if slots is None:
            slots = self._by_loop[loop] = asyncio.Semaphore(self.limit)
        return slots
