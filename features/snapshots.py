"""Profile snapshots: Parquet, one folder per catalogue version and as-of date, written atomically.

Building one: the accepted tables are cut by USCC hash into partition folders on disk, streaming a batch at a
time (``partition_accepted``), so no process ever holds a whole source; each partition is then profiled by the
engine (``features.engines``: in turn, in a process pool or on Dask) and written as one part file. The parts
and a manifest are assembled in a staging folder that is renamed into place only when every part succeeded, so
a failed build leaves the previous snapshot as it was. Layout::

    <root>/catalogue=<version>/as_of=<YYYY-MM-DD>/part-00000.parquet …  _manifest.json
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from features.atomic import replace_folder, staging_folder
from features.catalogue import CATALOGUE_VERSION, FEATURE_NAMES
from features.engines import ProfileEngine, partition_of
from features.profile_columns import ENTERPRISE
from features.profiles import CATALOGUE, EncodedRegion, FeatureSet
from features.schemas import SOURCES_BY_NAME

MANIFEST = "_manifest.json"
_BATCH_ROWS = 1_000_000


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


def accepted_path(ingest_dir: Path, source: str) -> Path:
    """The accepted table of ``source`` (a Parquet file or a folder of parts)."""
    return Path(ingest_dir) / "accepted" / f"{source}.parquet"


def inputs_fingerprint(ingest_dir: Path) -> str:
    """A short digest of the ingest run the snapshot was built from (its summary report)."""
    summary = Path(ingest_dir) / "reports" / "summary.json"
    return hashlib.sha256(summary.read_bytes()).hexdigest()[:16] if summary.exists() else "unknown"


def partition_accepted(ingest_dir: Path, work_dir: Path, partitions: int,
                       batch_rows: int = _BATCH_ROWS, feature_set: FeatureSet = CATALOGUE) -> list[Path]:
    """Cut every accepted table the feature set reads into ``partitions`` folders by USCC hash, one batch in
    memory at a time, keeping only the columns it reads.

    The USCC strings are hashed once, on the registry; every other row finds its enterprise by a look-up of
    its batch's USCC dictionary (read as Parquet dictionary pages, not strings) and carries it as
    ``_enterprise`` (its position in its partition's registry) instead of the USCC, and text columns are
    dictionary-encoded, so a partition reads back as numbers and small codes.
    """
    folders = [Path(work_dir) / f"partition={k:05d}" for k in range(partitions)]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    registry = pc.unique(ds.dataset(accepted_path(ingest_dir, "registration"), format="parquet")
                         .to_table(columns=["uscc"]).column("uscc"))
    codes = registry.to_numpy(zero_copy_only=False)
    owner = partition_of(codes, partitions)
    lookup = pd.Index(codes)
    lookup.get_indexer(codes[:1])  # its hash table is built here, once, not per batch or in two threads
    local = np.zeros(len(owner), dtype=np.int32)
    for k in range(partitions):
        mine = owner == k
        local[mine] = np.arange(int(mine.sum()), dtype=np.int32)
    with ThreadPoolExecutor(max_workers=2) as pool:  # Arrow releases the GIL: two sources at a time
        done = [pool.submit(_partition_source, accepted_path(ingest_dir, source), source, folders, lookup, owner,
                            local, batch_rows, needed_columns(source, feature_set)) for source in feature_set.columns]
        for future in done:
            future.result()
    return folders


def _partition_source(path: Path, source: str, folders: list[Path], registry: pd.Index, owner: np.ndarray,
                      local: np.ndarray, batch_rows: int, needed: list[str]) -> None:
    """One source into every partition folder as an Arrow IPC stream: per batch one look-up, one stable sort
    by partition and one take, then a zero-copy slice per partition (no Parquet encoding in between)."""
    dataset = ds.dataset(path, format=_parquet_format(path))
    columns = [c for c in needed if c in dataset.schema.names and not (c == "_superseded_on" and _all_null(path, c))]
    schema = _partition_schema(dataset.schema, columns, source)
    sinks = [pa.OSFile(str(folder / f"{source}.arrows"), "wb") for folder in folders]
    writers = [pa.ipc.new_stream(sink, schema) for sink in sinks]
    try:
        batches = dataset.to_batches(columns=["uscc", *[c for c in columns if c != "uscc"]], batch_size=batch_rows,
                                     batch_readahead=1, fragment_readahead=1)  # memory: a batch or two, not 16
        for batch in batches:
            found = _registry_positions(batch.column("uscc"), registry)
            known = found >= 0
            position = np.where(known, found, 0)
            parts = np.where(known, owner[position], len(folders)).astype(np.int16)
            order = np.argsort(parts, kind="stable")  # radix sort on small integers; keeps each source's order
            bounds = np.searchsorted(parts[order], np.arange(len(folders) + 1))
            table = pa.Table.from_batches([batch]).select(columns)
            table = table.append_column(ENTERPRISE, pa.array(local[position], pa.int32())).take(pa.array(order))
            for k, writer in enumerate(writers):
                if bounds[k + 1] > bounds[k]:
                    writer.write_table(table.slice(bounds[k], bounds[k + 1] - bounds[k]).cast(schema))
    finally:
        for writer, sink in zip(writers, sinks, strict=True):
            writer.close()
            sink.close()


def needed_columns(source: str, feature_set: FeatureSet = CATALOGUE) -> list[str]:
    """The columns a feature set reads from ``source`` (the USCC only in registration; elsewhere
    ``_enterprise``)."""
    spec = SOURCES_BY_NAME[source]
    wanted = dict.fromkeys([*(("uscc",) if source == "registration" else ()), spec.event, spec.available,
                            *feature_set.columns[source], "_superseded_on"])
    return list(wanted)


def _registry_positions(uscc: pa.Array, registry: pd.Index) -> np.ndarray:
    """Each row's position in the registry (-1 for none). A dictionary-encoded USCC column is looked up once
    per distinct code and its indices mapped, rather than hashing every row's string."""
    if pa.types.is_dictionary(uscc.type):
        found = registry.get_indexer(uscc.dictionary.to_numpy(zero_copy_only=False))
        if not uscc.null_count:
            return found[uscc.indices.to_numpy()]
        indices = uscc.indices.fill_null(0).to_numpy(zero_copy_only=False)
        return np.where(uscc.is_valid().to_numpy(zero_copy_only=False), found[indices], -1)
    return registry.get_indexer(uscc.to_numpy(zero_copy_only=False)).astype(np.int64)


def _all_null(path: Path, column: str) -> bool:
    """Whether the Parquet statistics show ``column`` null in every row (``_superseded_on`` before any
    correction), so the partitions need not carry it; False when a part has no statistics."""
    for fragment in ds.dataset(path, format="parquet").get_fragments():
        metadata = fragment.metadata
        at = metadata.schema.names.index(column)
        for group in range(metadata.num_row_groups):
            chunk = metadata.row_group(group).column(at)
            if not chunk.is_stats_set or chunk.statistics.null_count != chunk.num_values:
                return False
    return True


def _parquet_format(path: Path) -> ds.ParquetFileFormat:
    """Parquet read with every text column as a dictionary, so codes never become Python strings: the USCC,
    dictionary-paged as ingest writes it, then decodes about three times faster and is looked up per code."""
    schema = ds.dataset(path, format="parquet").schema
    text = {f.name for f in schema if pa.types.is_string(f.type)}
    return ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=text))


def _partition_schema(schema: pa.Schema, columns: list[str], source: str) -> pa.Schema:
    """Partition file columns: the USCC (registration only) as plain text, since its batch-wide dictionary
    would travel with every partition's slice; other text dictionary-encoded."""
    fields = []
    for name in columns:
        field = schema.field(name)
        if name == "uscc":
            field = field.with_type(pa.string())
        elif pa.types.is_string(field.type) or pa.types.is_dictionary(field.type):
            field = field.with_type(pa.dictionary(pa.int32(), pa.string()))
        fields.append(field)
    return pa.schema([*fields, pa.field(ENTERPRISE, pa.int32())])


@dataclass(frozen=True)
class _PartitionJob:
    """Profile one partition folder at the as-of dates and write its part file (picklable for pools and Dask)."""

    dates: list[pd.Timestamp]
    out_dir: Path
    feature_set: FeatureSet = CATALOGUE

    def __call__(self, folder: Path) -> int:
        frame = profile_partition(_read_partition(folder, self.feature_set.columns), self.dates, self.feature_set)
        frame.to_parquet(self.out_dir / f"part-{folder.name.split('=')[1]}.parquet", index=False)
        return len(frame)


def profile_partition(tables: Mapping[str, pa.Table], dates: Sequence[pd.Timestamp],
                      feature_set: FeatureSet = CATALOGUE) -> pd.DataFrame:
    """The per-partition function on a partition's files: its profiles at every date, stacked (as
    ``features.profiles.build_profiles`` on the same records, straight from Arrow)."""
    region = EncodedRegion.of_arrow(tables, feature_set)
    return pd.concat([region.frame_on(pd.Timestamp(d)) for d in dates], ignore_index=True)


def _read_partition(folder: Path, sources: Iterable[str]) -> dict[str, pa.Table]:
    """A partition folder's sources as Arrow tables, memory-mapped (text columns dictionary-encoded)."""
    tables = {}
    for source in sources:
        with pa.memory_map(str(folder / f"{source}.arrows"), "rb") as sink:
            tables[source] = pa.ipc.open_stream(sink).read_all()
    return tables


def write_snapshot(ingest_dir: Path, root: Path, as_of: pd.Timestamp, engine: ProfileEngine,
                   *, batch_rows: int = _BATCH_ROWS, feature_set: FeatureSet = CATALOGUE) -> Snapshot:
    """Build the snapshot of ``as_of`` from ``ingest_dir`` on ``engine`` and put it in place atomically
    (``feature_set``: the catalogue, or a subset that lands under its own version's folder)."""
    as_of = pd.Timestamp(as_of)
    target = snapshot_dir(root, as_of, feature_set.version)
    staging = staging_folder(target)  # also removes what a killed build of the same snapshot left behind
    work = staging_folder(target, "partitions")
    try:
        folders = partition_accepted(ingest_dir, work, engine.partitions, batch_rows, feature_set)
        pa.default_memory_pool().release_unused()  # the batches' memory back to the system before workers start
        rows = sum(engine.map(_PartitionJob([as_of], staging, feature_set), folders))
        snapshot = Snapshot(target, as_of, feature_set.version, rows,
                            datetime.now(UTC).isoformat(timespec="seconds"), inputs_fingerprint(ingest_dir))
        _write_manifest(staging, snapshot, feature_set.features)
        _swap(staging, target)
        return snapshot
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)


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
