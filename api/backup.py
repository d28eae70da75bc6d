"""Backup and restore (备份与恢复): the service database, the MLflow store and the profile snapshots, in one folder.

A backup folder holds ``database/`` (SQLite through its online backup API, or a ``pg_dump`` custom-format
archive), ``mlflow/`` (the store's SQLite database, then the artifact folders it points at: artifacts are
written before the version that names them, so copying the database first leaves no version without its
files), ``snapshots/`` (complete profile snapshots only), ``champion_history/`` and ``manifest.json`` with the
size and SHA-256 of every file. Restore checks every checksum first, refuses a target that already holds data
unless ``force``, and points the restored MLflow store at its new artifact folder. Operators: docs/operations.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from sqlalchemy import inspect
from sqlalchemy.engine import URL, make_url

from api.db import make_engine
from config.settings import Settings
from features.atomic import staging_folder
from features.snapshots import MANIFEST as SNAPSHOT_MANIFEST

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
SQLITE_DB = "database/xinyi.db"
PG_ARCHIVE = "database/xinyi.pgdump"
MLFLOW_DB = "mlflow/mlflow.db"
# MLflow columns holding artifact locations, rewritten on restore when the artifact folder moved
_LOCATION_COLUMNS = (("experiments", "artifact_location"), ("runs", "artifact_uri"), ("model_versions", "source"),
                     ("model_versions", "storage_location"), ("logged_models", "artifact_location"))


class BackupError(RuntimeError):
    """A backup or restore that cannot be carried out: unsupported store, bad checksum, non-empty target."""


@dataclass(frozen=True)
class BackupSummary:
    """What a backup or restore covered: the folder, the database kind, files and bytes."""

    folder: Path
    database: str
    files: int
    bytes: int


def backup(settings: Settings, to: Path) -> BackupSummary:
    """Write a consistent backup of ``settings``' database, MLflow store and snapshots into the empty ``to``."""
    to = Path(to)
    if to.exists() and any(to.iterdir()):
        raise BackupError(f"{to} is not empty; back up into a new folder")
    staging = staging_folder(to, "partial")  # owner-named: a killed backup's leftover goes on the next run
    try:
        kind = _backup_database(settings.resolved_database_url, staging)
        locations = _backup_mlflow(settings, staging)
        _copy_snapshots(settings.region_dir() / "snapshots", staging / "snapshots")
        for history in _history_files(settings):
            (staging / "champion_history").mkdir(exist_ok=True)
            shutil.copy2(history, staging / "champion_history" / history.name)
        files = _checksums(staging)
        meta = {"format": FORMAT_VERSION, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "database": kind, "model_name": settings.model_name, "region": settings.region_name,
                "mlflow_artifact_locations": locations, "files": files}
        (staging / MANIFEST).write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
        if to.exists():
            to.rmdir()
        os.replace(staging, to)  # a backup folder exists only complete, with its manifest
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BackupSummary(to, kind, len(files), sum(f["bytes"] for f in files.values()))


def restore(settings: Settings, source: Path, *, force: bool = False) -> BackupSummary:
    """Restore the backup in ``source`` into ``settings``' database, MLflow store and data directory."""
    source = Path(source)
    meta = verify(source)
    occupied = _occupied(settings, meta["database"])
    if occupied and not force:
        raise BackupError(f"the target already holds data ({', '.join(occupied)}); restore with --force to replace it")
    _restore_database(settings.resolved_database_url, meta["database"], source, clean=bool(occupied))
    _restore_mlflow(settings, source, meta["mlflow_artifact_locations"])
    if (source / "snapshots").exists():
        target = settings.region_dir() / "snapshots"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source / "snapshots", target)
    for history in sorted((source / "champion_history").glob("*.jsonl")):
        target = settings.champion_history_path or _mlflow_db(settings).parent / "champion_history" / history.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(history, target)
    files = meta["files"]
    return BackupSummary(source, meta["database"], len(files), sum(f["bytes"] for f in files.values()))


def verify(source: Path) -> dict[str, Any]:
    """The backup's manifest, once every file it lists has its recorded size and SHA-256 (BackupError if not)."""
    path = Path(source) / MANIFEST
    if not path.exists():
        raise BackupError(f"{source} has no {MANIFEST}: not a backup, or an unfinished one")
    meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT_VERSION:
        raise BackupError(f"backup format {meta.get('format')!r} is not {FORMAT_VERSION}")
    found = _checksums(Path(source))
    for name, expected in meta["files"].items():
        if found.get(name) != expected:
            raise BackupError(f"{name} is missing or differs from the manifest (size or SHA-256)")
    return meta


# -- the service database --------------------------------------------------------------------------------


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def _backup_database(database_url: str, staging: Path) -> str:
    url = make_url(database_url)
    (staging / "database").mkdir()
    if url.get_backend_name() == "sqlite":
        _sqlite_copy(_sqlite_path(url), staging / SQLITE_DB)
        return "sqlite"
    if url.get_backend_name() == "postgresql":
        _pg_tool("pg_dump", url, ["--format=custom", "--no-owner", "--no-privileges",
                                  f"--file={staging / PG_ARCHIVE}", *_pg_schema_args(url)])
        return "postgresql"
    raise BackupError(f"no backup method for {url.get_backend_name()} databases")


def _restore_database(database_url: str, kind: str, source: Path, *, clean: bool) -> None:
    url = make_url(database_url)
    if url.get_backend_name() != kind:
        raise BackupError(f"the backup holds a {kind} database; the target is {url.get_backend_name()}")
    if kind == "sqlite":
        target = _sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("-wal", "-shm"):  # a forced restore must not meet the old database's journal
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        _sqlite_copy(source / SQLITE_DB, target)
        return
    _pg_tool("pg_restore", url, ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
                                 *(["--clean", "--if-exists"] if clean else []), str(source / PG_ARCHIVE)])


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (its online backup API), put in place by one rename."""
    if not source.exists():
        raise BackupError(f"no SQLite database at {source}")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(partial) as dst:
        src.backup(dst)
    dst.close()
    src.close()
    os.replace(partial, target)


def _pg_schema_args(url: URL) -> list[str]:
    """``--schema`` for a URL whose connections set a search path (``options=-csearch_path=…``)."""
    options = str(url.query.get("options", ""))
    for part in options.split():
        if part.startswith("-csearch_path="):
            return [f"--schema={part.split('=', 1)[1].split(',')[0]}"]
    return []


def _pg_tool(tool: str, url: URL, args: list[str]) -> None:
    """Run ``pg_dump`` or ``pg_restore`` against ``url``; the password travels in the environment, not argv."""
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    connection = [f"--host={url.host or 'localhost'}", f"--port={url.port or 5432}",
                  f"--username={url.username or 'postgres'}", f"--dbname={url.database}"]
    try:
        done = subprocess.run([tool, *connection, *args], env=env, capture_output=True, text=True,
                              check=False, timeout=3600)
    except FileNotFoundError:
        raise BackupError(f"{tool} is not installed (PostgreSQL client tools, same major version)") from None
    if done.returncode != 0:
        raise BackupError(f"{tool} failed: {done.stderr.strip()[-500:]}")


def _occupied(settings: Settings, kind: str) -> list[str]:
    """What in the restore target already holds data (empty list: safe to restore)."""
    found = []
    url = make_url(settings.resolved_database_url)
    if kind == "sqlite":
        path = _sqlite_path(url)
        if path.exists() and path.stat().st_size > 0:
            found.append(f"database {path}")
    else:
        engine = make_engine(settings.resolved_database_url)
        try:
            if inspect(engine).get_table_names():
                found.append(f"database {url.render_as_string(hide_password=True)}")
        finally:
            engine.dispose()
    mlflow = _mlflow_db(settings)
    if mlflow.exists():
        found.append(f"MLflow store {mlflow}")
    snapshots = settings.region_dir() / "snapshots"
    if snapshots.exists() and any(snapshots.iterdir()):
        found.append(f"snapshots {snapshots}")
    return found


# -- MLflow, snapshots, history ----------------------------------------------------------------------------


def _mlflow_db(settings: Settings) -> Path:
    uri = settings.resolved_mlflow_uri
    if not uri.startswith("sqlite:///"):
        raise BackupError(f"only a SQLite MLflow store can be backed up here, not {uri!r}; back up its server")
    return Path(unquote(uri.removeprefix("sqlite:///")))


def _local_folder(location: str) -> Path | None:
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    return Path(location) if parsed.scheme == "" and Path(location).is_absolute() else None


def _backup_mlflow(settings: Settings, staging: Path) -> dict[str, str]:
    """Copy the MLflow database, then each artifact folder it names; return folder name → original location."""
    (staging / "mlflow").mkdir()
    _sqlite_copy(_mlflow_db(settings), staging / MLFLOW_DB)
    with sqlite3.connect(staging / MLFLOW_DB) as db:
        rows = db.execute("SELECT DISTINCT artifact_location FROM experiments").fetchall()
    db.close()
    locations: dict[str, str] = {}
    for (location,) in rows:
        folder = _local_folder(str(location))
        if folder is not None and folder.is_dir():
            name = f"artifacts-{len(locations)}"
            shutil.copytree(folder, staging / "mlflow" / name)
            locations[name] = str(location)
    return locations


def _restore_mlflow(settings: Settings, source: Path, locations: dict[str, str]) -> None:
    """Restore the MLflow database and artifacts; rewrite the old artifact locations to the new folders."""
    target_db = _mlflow_db(settings)
    target_db.parent.mkdir(parents=True, exist_ok=True)
    _sqlite_copy(source / MLFLOW_DB, target_db)
    root = settings.mlflow_artifact_dir
    with sqlite3.connect(target_db) as db:
        for name, old in locations.items():
            new_folder = root if len(locations) == 1 else root / name
            shutil.rmtree(new_folder, ignore_errors=True)
            shutil.copytree(source / "mlflow" / name, new_folder)
            old_folder = _local_folder(old)
            assert old_folder is not None  # only local folders were backed up
            for before, after in ((old_folder.as_uri(), new_folder.resolve().as_uri()),
                                  (str(old_folder), str(new_folder.resolve()))):
                _relocate(db, before, after)
    db.close()


def _relocate(db: sqlite3.Connection, before: str, after: str) -> None:
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table, column in _LOCATION_COLUMNS:
        if table in tables:
            db.execute(f"UPDATE {table} SET {column} = ? || substr({column}, ?) "  # noqa: S608 - fixed names
                       f"WHERE substr({column}, 1, ?) = ?", (after, len(before) + 1, len(before), before))


def _copy_snapshots(root: Path, target: Path) -> None:
    """Complete snapshots only (a manifest inside); staging and retired folders are skipped."""
    for manifest in sorted(root.glob(f"catalogue=*/as_of=*/{SNAPSHOT_MANIFEST}")):
        folder = manifest.parent
        shutil.copytree(folder, target / folder.parent.name / folder.name,
                        ignore=shutil.ignore_patterns(".*"))


def _history_files(settings: Settings) -> list[Path]:
    """The champion history (models.history): the configured file, or every model's file beside the store."""
    if settings.champion_history_path is not None:
        return [settings.champion_history_path] if settings.champion_history_path.exists() else []
    return sorted((_mlflow_db(settings).parent / "champion_history").glob("*.jsonl"))


def _checksums(folder: Path) -> dict[str, dict[str, Any]]:
    """Relative path → size and SHA-256 of every file under ``folder`` but the manifest."""
    found = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        found[path.relative_to(folder).as_posix()] = {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}
    return found
