"""防篡改留痕: the audit log is a hash chain; edits, deletions and reorderings are each found and named."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from api import cli
from api.audit import write_event
from api.audit_chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    AppendOnlyError,
    ChainBreak,
    VerificationResult,
    append_row,
    compute_row_hash,
    verify_chain,
)
from api.db import make_engine, make_sessionmaker, migrate
from api.db.models import AuditChainHead, AuditEvent, utcnow
from config import settings as settings_module
from tests.api.factories import Scenario, bearer


def new_event(n: int) -> AuditEvent:
    """An audit row as the middleware would write it."""
    return AuditEvent(at=utcnow(), request_id=f"req-{n}", actor_account_id=n, actor_role="bank",
                      action="score.create", uscc=None, outcome="allowed", http_status=200, detail=None)


def log(engine: Engine, count: int) -> list[AuditEvent]:
    """Append ``count`` rows, one transaction each, and return the log in chain order."""
    factory = make_sessionmaker(engine)
    for n in range(count):
        write_event(factory, new_event(n))
    with Session(engine) as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def tamper(engine: Engine, *statements: str) -> None:
    """Run raw SQL against the log with the append-only triggers out of the way, as an intruder would."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER audit_events_no_update"))
            connection.execute(text("DROP TRIGGER audit_events_no_delete"))
        for statement in statements:
            connection.execute(text(statement))


def verify(engine: Engine) -> VerificationResult:
    """The verifier's answer on a fresh session."""
    with Session(engine) as session:
        return verify_chain(session)


def first_break(engine: Engine) -> ChainBreak:
    """The first broken link, which the test expects there to be."""
    found = verify(engine).first_break
    assert found is not None
    return found


def test_requests_build_an_intact_chain(client: TestClient, scenario: Scenario, engine: Engine, db: Session) -> None:
    for _ in range(3):
        client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key))
    client.get("/v1/enterprise/authorisations", headers=bearer(scenario.enterprise_key))

    rows = list(db.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
    result = verify_chain(db)

    assert result.ok, result.first_break
    assert result.rows_checked == 4
    assert [r.seq for r in rows] == [1, 2, 3, 4]
    assert rows[0].prev_hash == GENESIS_HASH
    assert [r.prev_hash for r in rows[1:]] == [r.row_hash for r in rows[:-1]]
    head = db.get(AuditChainHead, 1)
    assert head is not None
    assert (head.seq, head.last_hash) == (4, rows[-1].row_hash)


@pytest.mark.parametrize("field", HASHED_FIELDS)
def test_every_hashed_field_changes_the_hash(field: str) -> None:
    row = new_event(1)
    fields = {name: getattr(row, name) for name in HASHED_FIELDS}
    changed = dict(fields)
    changed[field] = replace_value(fields[field])

    assert compute_row_hash(changed, GENESIS_HASH) != compute_row_hash(fields, GENESIS_HASH)
    assert compute_row_hash(fields, "1" * 64) != compute_row_hash(fields, GENESIS_HASH)


def replace_value(value: object) -> object:
    """Another value of the same kind (a microsecond later for the time)."""
    if isinstance(value, datetime):
        return value + timedelta(microseconds=1)
    if isinstance(value, int):
        return value + 1
    return "something" if value is None else f"{value}x"


def test_rows_appended_without_the_unit_of_work_chain_like_the_others(engine: Engine) -> None:
    """``append_row`` (the score path's Core insert) and ORM-added rows share one chain, in the order written."""
    factory = make_sessionmaker(engine)
    write_event(factory, new_event(0))
    with factory() as session:
        fields = {name: getattr(new_event(1), name) for name in HASHED_FIELDS}
        append_row(session, fields)
        session.commit()
    write_event(factory, new_event(2))

    with Session(engine) as session:
        rows = list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
    assert [(row.seq, row.request_id) for row in rows] == [(1, "req-0"), (2, "req-1"), (3, "req-2")]
    assert rows[1].prev_hash == rows[0].row_hash and rows[2].prev_hash == rows[1].row_hash
    assert rows[1].row_hash == compute_row_hash({name: getattr(rows[1], name) for name in HASHED_FIELDS},
                                                rows[0].row_hash)
    assert verify(engine).ok


def test_an_edited_row_is_named(engine: Engine) -> None:
    rows = log(engine, 5)
    tamper(engine, f"UPDATE audit_events SET http_status = 403, outcome = 'denied' WHERE id = {rows[2].id}")

    found = first_break(engine)

    assert (found.row_id, found.kind) == (rows[2].id, "edited")
    assert f"row {rows[2].id}" in found.message


def test_an_edited_and_rehashed_row_breaks_the_next_link(engine: Engine) -> None:
    rows = log(engine, 4)
    edited = {name: getattr(rows[1], name) for name in HASHED_FIELDS} | {"detail": "nothing to see"}
    forged = compute_row_hash(edited, rows[1].prev_hash)
    tamper(engine, f"UPDATE audit_events SET detail = 'nothing to see', row_hash = '{forged}' WHERE id = {rows[1].id}")

    found = first_break(engine)

    assert (found.row_id, found.kind) == (rows[2].id, "deleted")
    assert "predecessor was deleted or rewritten" in found.message


def test_a_deleted_row_is_named(engine: Engine) -> None:
    rows = log(engine, 5)
    tamper(engine, f"DELETE FROM audit_events WHERE id = {rows[1].id}")

    found = first_break(engine)

    assert (found.row_id, found.seq, found.kind) == (rows[2].id, 3, "deleted")
    assert "seq 2" in found.message


def test_deleting_the_newest_rows_is_found_through_the_head(engine: Engine) -> None:
    rows = log(engine, 5)
    tamper(engine, f"DELETE FROM audit_events WHERE id IN ({rows[3].id}, {rows[4].id})")

    result = verify(engine)

    assert result.first_break is not None
    assert (result.first_break.row_id, result.first_break.kind) == (rows[2].id, "truncated")
    assert result.rows_checked == 3


def test_reordered_rows_are_named(engine: Engine) -> None:
    rows = log(engine, 5)
    a, b = rows[1], rows[2]
    tamper(
        engine,
        f"UPDATE audit_events SET seq = -1 WHERE id = {a.id}",
        f"UPDATE audit_events SET seq = {a.seq} WHERE id = {b.id}",
        f"UPDATE audit_events SET seq = {b.seq} WHERE id = {a.id}",
    )

    found = first_break(engine)

    assert (found.row_id, found.seq, found.kind) == (b.id, a.seq, "reordered")


def test_the_database_refuses_update_and_delete(engine: Engine) -> None:
    rows = log(engine, 2)

    for statement in (f"UPDATE audit_events SET detail = 'x' WHERE id = {rows[0].id}",
                      f"DELETE FROM audit_events WHERE id = {rows[0].id}"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))

    assert verify(engine).ok


def test_no_session_updates_or_deletes_an_audit_row(engine: Engine) -> None:
    log(engine, 1)
    with Session(engine) as session:
        row = session.scalars(select(AuditEvent)).one()
        row.detail = "rewritten"
        with pytest.raises(AppendOnlyError):
            session.flush()
        session.rollback()
        session.delete(session.scalars(select(AuditEvent)).one())
        with pytest.raises(AppendOnlyError):
            session.flush()


def test_concurrent_writers_keep_the_chain_intact(engine: Engine) -> None:
    factory = make_sessionmaker(engine)
    threads, per_thread = 6, 15
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        barrier.wait()
        try:
            for n in range(per_thread):
                write_event(factory, new_event(t * 100 + n))
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []
    result = verify(engine)
    assert result.ok, result.first_break
    assert result.rows_checked == threads * per_thread


def test_rows_logged_before_the_chain_existed_are_chained_by_the_migration(database_url: str) -> None:
    migrate(database_url, "0004")
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            for n in range(3):
                connection.execute(
                    text("INSERT INTO audit_events (at, request_id, actor_role, action, outcome, http_status) "
                         "VALUES (:at, :rid, 'bank', 'score.create', 'allowed', 200)"),
                    {"at": utcnow(), "rid": f"old-{n}"},
                )
        migrate(database_url)
        write_event(make_sessionmaker(engine), new_event(9))

        result = verify(engine)
        with Session(engine) as session:
            order = list(session.scalars(select(AuditEvent.request_id).order_by(AuditEvent.seq)))
    finally:
        engine.dispose()

    assert result.ok, result.first_break
    assert order == ["old-0", "old-1", "old-2", "req-9"]


@pytest.fixture
def cli_database(database_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The CLI pointed at the test database."""
    monkeypatch.setenv("XINYI_DATABASE_URL", database_url)
    settings_module.get_settings.cache_clear()
    yield engine
    settings_module.get_settings.cache_clear()


def test_cli_verify_exits_1_naming_the_broken_row(cli_database: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    rows = log(cli_database, 3)

    assert cli.main(["audit", "verify"]) == 0
    assert "intact" in capsys.readouterr().out
    tamper(cli_database, f"UPDATE audit_events SET uscc = '91350100M000100Y43' WHERE id = {rows[1].id}")

    assert cli.main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"row {rows[1].id}" in out
    assert "edited" in out


def test_verify_names_a_missing_head(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_chain_head"))

    found = first_break(engine)

    assert found.kind == "no_head"
