"""api/db/direct.py: a statement run on the DB-API cursor reads and writes what ``Connection.execute`` would, in
the same transaction, on SQLite and PostgreSQL; statements it cannot run faithfully are refused."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy.exc
from sqlalchemy import Engine, bindparam, insert, select, update

from api.db.direct import DirectStatement
from api.db.models import AuditChainHead, Enterprise, EnterpriseProfile, ScoreResponse

USCC = "91350100MA00000001"
LATEST = (
    select(EnterpriseProfile.as_of, EnterpriseProfile.features, EnterpriseProfile.policy_facts)
    .where(EnterpriseProfile.uscc == bindparam("uscc"))
    .order_by(EnterpriseProfile.as_of.desc())
    .limit(1)
)


def _seed(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(insert(Enterprise), {"uscc": USCC, "name": "直连企业", "region_code": "350100",
                                                "industry": "C13", "status": "存续"})
        add = DirectStatement(insert(EnterpriseProfile))
        add.rows(connection, {"uscc": USCC, "as_of": date(2026, 10, 31), "features": {"a": 1.5, "b": None},
                              "policy_facts": None})
        add.rows(connection, {"uscc": USCC, "as_of": date(2026, 11, 30), "features": {"a": 2.5, "b": 7.0},
                              "policy_facts": {"records": [], "evidence": {"months": 12}}})


def test_reads_what_execute_reads(engine: Engine) -> None:
    _seed(engine)
    with engine.connect() as connection:
        through_sqlalchemy = tuple(connection.execute(LATEST, {"uscc": USCC}).one())
        direct = DirectStatement(LATEST).first(connection, {"uscc": USCC})
        assert direct == through_sqlalchemy
        assert direct == (date(2026, 11, 30), {"a": 2.5, "b": 7.0}, {"records": [], "evidence": {"months": 12}})
        assert DirectStatement(LATEST).first(connection, {"uscc": "91350100MA00000002"}) is None


def test_writes_in_the_connections_transaction_and_returns_rows(engine: Engine) -> None:
    claim = DirectStatement(
        update(AuditChainHead).where(AuditChainHead.id == 1)
        .values(seq=AuditChainHead.seq + bindparam("count")).returning(AuditChainHead.seq, AuditChainHead.last_hash)
    )
    with engine.connect() as connection:
        before = connection.execute(select(AuditChainHead.seq, AuditChainHead.last_hash)).one()
        connection.rollback()
        with connection.begin() as transaction:
            assert claim.first(connection, {"count": 3}) == (before.seq + 3, before.last_hash)
            transaction.rollback()
        assert connection.execute(select(AuditChainHead.seq)).scalar_one() == before.seq


def test_database_errors_are_sqlalchemys(engine: Engine) -> None:
    _seed(engine)
    add = DirectStatement(insert(EnterpriseProfile))
    with engine.connect() as connection, pytest.raises(sqlalchemy.exc.IntegrityError):
        add.rows(connection, {"uscc": USCC, "as_of": date(2026, 11, 30), "features": {}, "policy_facts": None})


def test_a_statement_that_needs_a_python_default_is_refused(engine: Engine) -> None:
    partial = {"uscc": USCC, "bank_id": 1, "model_name": "m", "model_version": "1", "profile_as_of": date(2026, 11, 30)}
    with engine.connect() as connection, pytest.raises(ValueError, match="column default computed in Python"):
        DirectStatement(insert(ScoreResponse)).rows(connection, partial)  # no id, no requested_at

