"""What the hash chain costs: one audit append (its own transaction, as the middleware writes it) and verification.

Prints, for SQLite (a temporary file) and, when reachable, PostgreSQL (a temporary schema on
``XINYI_TEST_POSTGRES_DSN``): the median and p99 of one append by one writer, beside the median of the same
row inserted and committed into an unchained copy of the table (the cost of a commit alone); rows a second appended by
``--threads`` writers at once (each append locks the chain head); and rows a second ``verify_chain`` checks.
Each figure is also recorded for docs/benchmarks.md (no targets: [api] states none for the chain). Usage::

    .venv/bin/python bench/audit_chain.py [--appends 2000] [--threads 4] [--verify-rows 20000]
        [--databases sqlite postgresql]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from api.audit import write_event
from api.audit_chain import verify_chain
from api.db import make_engine, make_sessionmaker, migrate
from api.db.models import AuditEvent, utcnow
from bench.results import record

PG_DSN = os.environ.get("XINYI_TEST_POSTGRES_DSN", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def event(n: int) -> AuditEvent:
    """A typical audit row: a bank's score request about one enterprise."""
    return AuditEvent(at=utcnow(), request_id=uuid.uuid4().hex, actor_account_id=n % 50, actor_role="bank",
                      action="score.create", uscc="91350100M000100Y43", outcome="allowed", http_status=200,
                      detail=None)


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'bench.db'}"


@contextmanager
def postgres_url() -> Iterator[str | None]:
    admin = create_engine(PG_DSN, connect_args={"connect_timeout": 3})
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError:
        admin.dispose()
        yield None
        return
    try:
        yield make_url(PG_DSN).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def unchained_insert_ms(engine: Engine, count: int) -> float:
    """Median ms of the same row inserted and committed into an unchained copy of the table: the baseline."""
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE audit_plain AS SELECT * FROM audit_events WHERE 1 = 0"))
    columns = [c.name for c in AuditEvent.__table__.columns if c.name != "id"]
    insert = text(f"INSERT INTO audit_plain ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})")
    times = []
    for n in range(count):
        row = event(n)
        values = {c: getattr(row, c) for c in columns} | {"seq": n, "prev_hash": "0" * 64, "row_hash": "0" * 64}
        started = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(insert, values)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


def run(name: str, url: str, appends: int, threads: int, verify_rows: int) -> None:
    migrate(url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    try:
        times = []
        for n in range(appends):
            started = time.perf_counter()
            write_event(factory, event(n))
            times.append(time.perf_counter() - started)
        times.sort()
        p50, p99 = statistics.median(times) * 1e3, times[int(0.99 * (len(times) - 1))] * 1e3
        plain_p50 = unchained_insert_ms(engine, appends)

        per_thread = appends // threads
        started = time.perf_counter()
        def writer() -> None:
            for n in range(per_thread):
                write_event(factory, event(n))

        workers = [threading.Thread(target=writer) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        concurrent_rate = per_thread * threads / (time.perf_counter() - started)

        for start in range(appends + per_thread * threads, verify_rows, 1000):  # top up, 1,000 rows a transaction
            with factory.begin() as session:
                session.add_all(event(n) for n in range(start, min(start + 1000, verify_rows)))
        with Session(engine) as session:
            started = time.perf_counter()
            result = verify_chain(session)
            verify_seconds = time.perf_counter() - started
        assert result.ok, result.first_break
        print(f"{name:<10} append p50 {p50:6.2f} ms  p99 {p99:6.2f} ms (unchained insert p50 {plain_p50:5.2f} ms)"
              f"  | {threads} writers: "
              f"{concurrent_rate:7.0f} rows/s  | verify: {result.rows_checked:,} rows in {verify_seconds:.2f} s "
              f"({result.rows_checked / verify_seconds:,.0f} rows/s), intact")
        record(f"{name}: audit append p50", p50, "ms", note=f"unchained insert and commit p50 {plain_p50:.2f} ms")
        record(f"{name}: audit append p99", p99, "ms")
        record(f"{name}: appends a second, {threads} writers", concurrent_rate, "rows/s")
        record(f"{name}: rows verified a second", result.rows_checked / verify_seconds, "rows/s",
               note=f"{result.rows_checked:,} rows, chain intact")
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--verify-rows", type=int, default=20_000)
    parser.add_argument("--databases", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"])
    args = parser.parse_args()
    if "sqlite" in args.databases:
        with sqlite_url() as url:
            run("sqlite", url, args.appends, args.threads, args.verify_rows)
    if "postgresql" not in args.databases:
        return
    with postgres_url() as pg:
        if pg is None:
            print(f"postgresql not reachable at {make_url(PG_DSN).render_as_string(hide_password=True)}; skipped")
        else:
            run("postgresql", pg, args.appends, args.threads, args.verify_rows)


if __name__ == "__main__":
    main()
