"""Shared fixtures: every database test runs on SQLite and on PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

pytest_plugins = ["tests.utils.model_fixtures"]

PG_DSN_ENV = "XINYI_TEST_POSTGRES_DSN"
PG_DSN_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

_pg: dict[str, object] = {"checked": False, "error": None, "ran": 0}


def _pg_dsn() -> str:
    return os.environ.get(PG_DSN_ENV, PG_DSN_DEFAULT)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _pg_unreachable() -> str | None:
    """None when the PostgreSQL server answers, else why not (checked once per session)."""
    if not _pg["checked"]:
        _pg["checked"] = True
        engine = create_engine(_pg_dsn(), connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except OperationalError as exc:
            _pg["error"] = str(exc.orig or exc).splitlines()[0]
        finally:
            engine.dispose()
    return _pg["error"]  # type: ignore[return-value]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose connections use a fresh schema, dropped after the test."""
    error = _pg_unreachable()
    shown = make_url(_pg_dsn()).render_as_string(hide_password=True)
    if error is not None:
        message = f"PostgreSQL not reachable at {shown} ({error}); PostgreSQL half skipped"
        if _in_ci():
            pytest.fail(message.replace("half skipped", "half required because CI=true"))
        pytest.skip(message)
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_pg_dsn())
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(_pg_dsn()).update_query_dict({"options": f"-csearch_path={schema}"})
    _pg["ran"] = int(_pg["ran"]) + 1  # type: ignore[call-overload]
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> str:
    """An empty database: a SQLite file under tmp_path, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/xinyi.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say plainly whether the PostgreSQL half of the database tests ran."""
    shown = make_url(_pg_dsn()).render_as_string(hide_password=True)
    if not _pg["checked"]:
        line = "PostgreSQL half: not requested by the selected tests"
    elif _pg["error"] is not None:
        verdict = "FAILED (CI=true)" if _in_ci() else "SKIPPED"
        line = f"PostgreSQL half: {verdict}, server not reachable at {shown} ({_pg['error']})"
    else:
        line = f"PostgreSQL half: ran ({_pg['ran']} tests against {shown}, set {PG_DSN_ENV} to change)"
    terminalreporter.write_line(line, yellow=_pg["error"] is not None, green=_pg["error"] is None)
