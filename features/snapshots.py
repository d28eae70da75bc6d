"""Profile snapshots: Parquet, one folder per catalogue version and as-of date, written atomically.

Building one: the accepted tables are cut by USCC hash into partitions, each profiled by the same per-partition
function and written as one part file. On a ``LocalEngine``, when the columns the feature set reads fit a memory
budget, the cut is made in memory (``features.partitions_in_memory``: two threads read the row groups, each
batch converted once to the encoder's arrays and grouped by partition) and the engine's threads profile the
partitions; otherwise, and on Dask, they are cut into partition folders on disk a batch at a time
(``features.partitions.partition_accepted``), so no process holds a whole source, and the engine's processes or
Dask workers read them. Both cuts give the same rows in the same order, so the same parts. The parts and a manifest are
assembled in a staging folder that is renamed into place only when every part succeeded, so a failed build
leaves the previous snapshot as it was. Layout::

    <root>/catalogue=<version>/as_of=<YYYY-MM-DD>/part-00000.parquet …  _manifest.json
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from features.atomic import replace_folder, staging_folder
from features.buckets import BucketPartition, bucket_partitions
from features.catalogue import CATALOGUE_VERSION, FEATURE_NAMES
from features.engines import LocalEngine, ProfileEngine
from features.partitions import BATCH_ROWS, accepted_path, needed_columns, partition_accepted
from features.partitions_in_memory import HeldPartition, in_memory_bytes, memory_reused, partition_in_memory
from features.profiles import CATALOGUE, EncodedRegion, FeatureSet

MANIFEST = "_manifest.json"
DICTIONARY_COLUMNS = ["as_of"]
"""Part-file columns written dictionary-encoded: the one date a part repeats. USCCs are distinct and features
continuous, so a dictionary would cost about twice the writing time for nothing."""
IN_MEMORY_BUDGET = min(6 * 2**30, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 3)
"""Bytes of partitioned columns a one-machine build holds in memory rather than shuffling through disk: 6 GiB,
or a third of the machine's memory if that is less."""


@dataclass(frozen=True)
class Snapshot:
    """A complete snapshot on disk: where it is, what it holds."""

    path: Path
    as_of: pd.Timestamp
    catalogue_version: str
    rows: int
    created_at: str
    inputs: str

    def read(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The profiles: uscc, as_of and the catalogue's features (or ``columns``), sorted by uscc."""
        frame = pd.read_parquet(self.path, columns=list(columns) if columns else None)
        return frame.sort_values("uscc", ignore_index=True) if "uscc" in frame.columns else frame


def snapshot_dir(root: Path, as_of: pd.Timestamp, catalogue_version: str = CATALOGUE_VERSION) -> Path:
    """Where the snapshot of ``as_of`` under a catalogue version lives."""
    return Path(root) / f"catalogue={catalogue_version}" / f"as_of={pd.Timestamp(as_of).date().isoformat()}"


def inputs_fingerprint(ingest_dir: Path) -> str:
    """A short digest of the ingest run the snapshot was built from (its summary report)."""
    summary = Path(ingest_dir) / "reports" / "summary.json"
    return hashlib.sha256(summary.read_bytes()).hexdigest()[:16] if summary.exists() else "unknown"


@dataclass(frozen=True)
class _PartitionJob:
    """Profile one partition (a folder, or held in memory) at the as-of dates and write its part file
    (picklable for pools and Dask)."""

    dates: list[pd.Timestamp]
    out_dir: Path
    feature_set: FeatureSet = CATALOGUE

    def __call__(self, partition: Path | HeldPartition | BucketPartition) -> int:
        tables: Mapping[str, pa.Table] | Mapping[str, dict[str, np.ndarray]]
        if isinstance(partition, HeldPartition):
            name, tables = partition.name, partition.take()
        elif isinstance(partition, BucketPartition):
            name, tables = partition.name, partition.read()
        else:
            name, tables = partition.name.split("=")[1], _read_partition(partition, self.feature_set.columns)
        frame = profile_partition(tables, self.dates, self.feature_set)
        del tables
        frame.to_parquet(self.out_dir / f"part-{name}.parquet", index=False, use_dictionary=DICTIONARY_COLUMNS)
        return len(frame)


def profile_partition(tables: Mapping[str, pa.Table] | Mapping[str, dict[str, np.ndarray]],
                      dates: Sequence[pd.Timestamp], feature_set: FeatureSet = CATALOGUE) -> pd.DataFrame:
    """The per-partition function on a partition's records (Arrow tables read from its folder, or the arrays
    of a partition cut in memory): its profiles at every date, stacked (as ``features.profiles.build_profiles``
    on the same records)."""
    first = next(iter(tables.values()))
    region = (EncodedRegion.of_arrow(tables, feature_set) if isinstance(first, pa.Table)
              else EncodedRegion.of_arrays(tables, feature_set))
    return pd.concat([region.frame_on(pd.Timestamp(d)) for d in dates], ignore_index=True)


def _read_partition(folder: Path, sources: Iterable[str]) -> dict[str, pa.Table]:
    """A partition folder's sources as Arrow tables, memory-mapped (text columns dictionary-encoded)."""
    tables = {}
    for source in sources:
        with pa.memory_map(str(folder / f"{source}.arrows"), "rb") as sink:
            tables[source] = pa.ipc.open_stream(sink).read_all()
    return tables


def write_snapshot(ingest_dir: Path, root: Path, as_of: pd.Timestamp, engine: ProfileEngine,
                   *, batch_rows: int = BATCH_ROWS, feature_set: FeatureSet = CATALOGUE,
                   memory_budget: int = IN_MEMORY_BUDGET) -> Snapshot:
    """Build the snapshot of ``as_of`` from ``ingest_dir`` on ``engine`` and put it in place atomically
    (``feature_set``: the catalogue, or a subset that lands under its own version's folder).

    When the accepted tables are bucketed (``features.buckets``) in a multiple of the engine's partitions, each
    partition job reads its own row groups from them, on either engine. Otherwise, on a ``LocalEngine``, when
    the columns read fit in ``memory_budget`` bytes (:func:`in_memory_bytes`), the partitions are cut in memory
    and profiled by threads of this process; otherwise (and on Dask) they are cut into folders on disk that each
    worker reads. All three give the same partitions and the same parts.
    """
    as_of = pd.Timestamp(as_of)
    target = snapshot_dir(root, as_of, feature_set.version)
    staging = staging_folder(target)  # also removes what a killed build of the same snapshot left behind
    work: Path | None = None
    try:
        job = _PartitionJob([as_of], staging, feature_set)
        read_direct = read_buckets(ingest_dir, engine.partitions, feature_set)
        if read_direct is not None:
            rows = sum(engine.map(job, read_direct))
        elif isinstance(engine, LocalEngine) and in_memory_bytes(ingest_dir, feature_set) <= memory_budget:
            with memory_reused():
                held = partition_in_memory(ingest_dir, engine.partitions, batch_rows, feature_set)
                rows = sum(engine.map_in_threads(job, held))
                del held
        else:
            work = staging_folder(target, "partitions")
            folders = partition_accepted(ingest_dir, work, engine.partitions, batch_rows, feature_set)
            pa.default_memory_pool().release_unused()  # the batches' memory back to the system before workers
            rows = sum(engine.map(job, folders))
        snapshot = Snapshot(target, as_of, feature_set.version, rows,
                            datetime.now(UTC).isoformat(timespec="seconds"), inputs_fingerprint(ingest_dir))
        _write_manifest(staging, snapshot, feature_set.features)
        _swap(staging, target)
        return snapshot
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)


def read_buckets(ingest_dir: Path, partitions: int, feature_set: FeatureSet = CATALOGUE
                 ) -> list[BucketPartition] | None:
    """The partitions as reads of bucketed accepted tables (``features.buckets``), or None when the tables the
    feature set reads are not bucketed in a multiple of ``partitions``."""
    sources = feature_set.columns
    return bucket_partitions({source: accepted_path(ingest_dir, source) for source in sources}, partitions,
                             {source: needed_columns(source, feature_set) for source in sources})


def _write_manifest(folder: Path, snapshot: Snapshot, features: Sequence[str] = FEATURE_NAMES) -> None:
    payload: dict[str, Any] = {
        "as_of": snapshot.as_of.date().isoformat(), "catalogue_version": snapshot.catalogue_version,
        "rows": snapshot.rows, "created_at": snapshot.created_at, "inputs": snapshot.inputs,
        "features": list(features),
    }
    (folder / MANIFEST).write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")


def _swap(staging: Path, target: Path) -> None:
    """Put ``staging`` where ``target`` is in one step; an older ``target`` is then removed (crash-safe:
    ``features.atomic``, tests/reliability)."""
    replace_folder(staging, target)


def read_manifest(folder: Path) -> Snapshot | None:
    """The snapshot in ``folder`` if it is complete (its manifest was written last), else None."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        return None
    meta = json.loads(path.read_text(encoding="utf-8"))
    return Snapshot(Path(folder), pd.Timestamp(meta["as_of"]), meta["catalogue_version"], int(meta["rows"]),
                    meta["created_at"], meta["inputs"])


def list_snapshots(root: Path, catalogue_version: str = CATALOGUE_VERSION) -> list[Snapshot]:
    """Every complete snapshot of a catalogue version, oldest as-of date first."""
    base = Path(root) / f"catalogue={catalogue_version}"
    found = [read_manifest(folder) for folder in sorted(base.glob("as_of=*"))] if base.exists() else []
    return [s for s in found if s is not None]


def latest_snapshot(root: Path, catalogue_version: str = CATALOGUE_VERSION) -> Snapshot | None:
    """The complete snapshot with the newest as-of date, or None."""
    snapshots = list_snapshots(root, catalogue_version)
    return snapshots[-1] if snapshots else None
