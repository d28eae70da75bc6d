"""Backup, then restore into an empty place: the restored service gives the same score JSON for the same request."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.app import create_app
from api.backup import _LOCATION_COLUMNS, MANIFEST, BackupError, backup, restore, verify
from api.pipeline import DemoPipeline
from config.settings import Settings
from features import atomic
from scoring.service import ScoreService
from tests.conftest import _pg_dsn
from tests.reliability.conftest import Region

pytestmark = pytest.mark.slow

VOLATILE = ("id", "requested_at")


@pytest.fixture
def restore_url(database_url: str) -> Iterator[str | None]:
    """Where the restore goes: nothing for SQLite (the new data directory's default), a fresh PostgreSQL database."""
    if database_url.startswith("sqlite"):
        yield None
        return
    name = f"xinyi_restore_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_pg_dsn(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _score(settings: Settings, bank_key: str, uscc: str) -> dict:
    app = create_app(settings, ScoreService.from_registry(settings))
    with TestClient(app) as client:
        response = client.post("/v1/scores", json={"uscc": uscc, "requested_amount": 300000},
                               headers={"Authorization": f"Bearer {bank_key}"})
    assert response.status_code == 200, response.text
    return {k: v for k, v in response.json().items() if k not in VOLATILE}


def _locations(mlflow_db: Path) -> list[str]:
    with sqlite3.connect(mlflow_db) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        found = [str(value) for table, column in _LOCATION_COLUMNS if table in tables
                 for (value,) in db.execute(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")]
    db.close()
    return found


def test_restore_into_an_empty_place_serves_the_same_scores(region: Region, database_url: str,
                                                            restore_url: str | None, tmp_path: Path) -> None:
    settings = region.settings.model_copy(update={"database_url": database_url})
    accounts = DemoPipeline(settings).database()
    bank, enterprise = accounts.by_label("bank_a"), accounts.by_label("enterprise_1")
    assert enterprise.uscc is not None
    before = _score(settings, bank.key, enterprise.uscc)

    done = backup(settings, tmp_path / "backup")
    assert done.database == ("sqlite" if restore_url is None else "postgresql")
    with pytest.raises(BackupError, match="not empty"):
        backup(settings, tmp_path / "backup")

    restored = Settings(data_dir=tmp_path / "restored", database_url=restore_url, demo_enterprises=800, seed=11)
    restore(restored, tmp_path / "backup")

    assert _score(restored, bank.key, enterprise.uscc) == before
    old_locations = _locations(Path(settings.resolved_mlflow_uri.removeprefix("sqlite:///")))
    new_locations = _locations(Path(restored.resolved_mlflow_uri.removeprefix("sqlite:///")))
    old_root = next(v for v in old_locations if v.endswith("mlartifacts"))  # the experiment's artifact folder
    assert not any(old_root in v for v in new_locations)  # the restored store no longer needs the original
    moved = [v for v in new_locations if str(restored.mlflow_artifact_dir) in v]
    assert len(moved) == sum(old_root in v for v in old_locations) > 0
    snapshots = sorted(p.relative_to(restored.data_dir).as_posix()
                       for p in (restored.region_dir() / "snapshots").rglob("*.parquet"))
    assert snapshots and all("/." not in s for s in snapshots)

    with pytest.raises(BackupError, match="already holds data"):
        restore(restored, tmp_path / "backup")
    restore(restored, tmp_path / "backup", force=True)
    assert _score(restored, bank.key, enterprise.uscc) == before


def test_restore_refuses_a_backup_that_differs_from_its_manifest(region: Region, tmp_path: Path) -> None:
    started = atomic._start_time(os.getpid()) or 1  # this id with another start time: a killed earlier backup
    killed = tmp_path / f".backup.partial-{atomic._host()}-{os.getpid()}-{started - 1}-{'c' * 12}"
    (killed / "database").mkdir(parents=True)
    backup(region.settings, tmp_path / "backup")
    assert not killed.exists()  # the killed backup's leftover is gone
    assert verify(tmp_path / "backup")["database"] == "sqlite"
    part = next((tmp_path / "backup" / "snapshots").rglob("*.parquet"))
    part.write_bytes(part.read_bytes()[:-1] + b"\0")
    target = Settings(data_dir=tmp_path / "restored", demo_enterprises=800, seed=11)
    with pytest.raises(BackupError, match=part.name):
        restore(target, tmp_path / "backup")
    assert not target.data_dir.exists()  # nothing restored
    (tmp_path / "backup" / MANIFEST).unlink()
    with pytest.raises(BackupError, match="not a backup"):
        verify(tmp_path / "backup")
