"""Migrations: upgrade to head on SQLite and PostgreSQL, idempotently, matching the ORM exactly."""

from __future__ import annotations

import json

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from api.db import alembic_config, make_engine, migrate
from api.db.models import Base


def test_upgrade_creates_every_table_at_head(database_url: str) -> None:
    migrate(database_url)
    migrate(database_url)  # a second run is a no-op

    engine = make_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            drift = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()

    assert set(Base.metadata.tables) <= tables
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert drift == []


def test_sqlite_gets_wal_and_foreign_keys(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/pragmas.db")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    finally:
        engine.dispose()


def test_grants_stored_before_data_scopes_keep_every_source(database_url: str) -> None:
    """0006: a grant consented before scopes could be chosen gains all four data scopes, and its receipt too."""
    migrate(database_url, "0005")
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO banks (code, name) VALUES ('MIG_BANK', '迁移银行')"))
            connection.execute(text("INSERT INTO enterprises (uscc, name) VALUES ('91350100M000100Y43', '迁移企业')"))
            bank_id = connection.execute(text("SELECT id FROM banks WHERE code = 'MIG_BANK'")).scalar_one()
            grant_id = connection.execute(text(
                "INSERT INTO authorisations (uscc, bank_id, purpose, scopes, granted_at, expires_at) VALUES "
                "('91350100M000100Y43', :bank, 'pre_credit', '[\"score\"]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) "
                "RETURNING id"), {"bank": bank_id}).scalar_one()
            connection.execute(text(
                "INSERT INTO authorisation_changes (authorisation_id, kind, at, scopes, expires_at) VALUES "
                "(:grant, 'granted', CURRENT_TIMESTAMP, '[\"score\"]', CURRENT_TIMESTAMP)"), {"grant": grant_id})
        migrate(database_url)
        with engine.connect() as connection:
            scopes = [connection.execute(text(f"SELECT scopes FROM {table}")).scalar_one()
                      for table in ("authorisations", "authorisation_changes")]
    finally:
        engine.dispose()

    expected = ["score", "tax", "social_insurance", "housing_fund", "utilities"]
    assert [json.loads(s) if isinstance(s, str) else s for s in scopes] == [expected, expected]
