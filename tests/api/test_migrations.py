"""Migrations: upgrade to head on SQLite and PostgreSQL, idempotently, matching the ORM exactly."""

from __future__ import annotations

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
