"""Profile snapshots: Parquet, one folder per catalogue version and as-of date, written atomically.

Building one: the accepted tables are cut by USCC hash into partitions, each profiled by the same per-partition
function and written as one part file. On a ``LocalEngine``, when the columns the feature set reads fit a memory
budget, the cut is made in memory (``partition_in_memory``: two threads read the row groups, each batch
converted once to the encoder's arrays and grouped by partition) and the engine's threads profile the
partitions; otherwise, and on Dask, they are cut into partition folders on disk a batch at a time
(``partition_accepted``), so no process holds a whole source, and the engine's processes or Dask workers read
them. Both cuts give the same rows in the same order, so the same parts. The parts and a manifest are
assembled in a staging folder that is renamed into place only when every part succeeded, so a failed build
leaves the previous snapshot as it was. Layout::

    <root>/catalogue=<version>/as_of=<YYYY-MM-DD>/part-00000.parquet …  _manifest.json
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from features.atomic import replace_folder, staging_folder
from features.catalogue import CATALOGUE_VERSION, FEATURE_NAMES
from features.engines import LocalEngine, ProfileEngine, partition_of
from features.profile_columns import DAY_NS, ENTERPRISE, NAT, arrow_ints, text
from features.profiles import CATALOGUE, EncodedRegion, FeatureSet
from features.schemas import SOURCES_BY_NAME

MANIFEST = "_manifest.json"
_BATCH_ROWS = 1_000_000
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


def accepted_path(ingest_dir: Path, source: str) -> Path:
    """The accepted table of ``source`` (a Parquet file or a folder of parts)."""
    return Path(ingest_dir) / "accepted" / f"{source}.parquet"


def inputs_fingerprint(ingest_dir: Path) -> str:
    """A short digest of the ingest run the snapshot was built from (its summary report)."""
    summary = Path(ingest_dir) / "reports" / "summary.json"
    return hashlib.sha256(summary.read_bytes()).hexdigest()[:16] if summary.exists() else "unknown"


@dataclass(frozen=True)
class _Registry:
    """The registry's USCCs, each enterprise's partition and its position in that partition's registry."""

    codes: np.ndarray
    owner: np.ndarray
    local: np.ndarray
    keys: np.ndarray | None
    """The USCCs as fixed-width bytes, sorted, when all have one byte length (as valid USCCs do): a binary search
    then finds a batch's codes without making Python strings. None otherwise."""
    sorted_at: np.ndarray | None
    """The registry position of each of ``keys``."""

    @classmethod
    def of(cls, ingest_dir: Path, partitions: int) -> _Registry:
        registry = pc.unique(ds.dataset(accepted_path(ingest_dir, "registration"), format="parquet")
                             .to_table(columns=["uscc"]).column("uscc"))
        codes = registry.to_numpy(zero_copy_only=False)
        owner = partition_of(codes, partitions)
        local = np.zeros(len(owner), dtype=np.int32)
        for k in range(partitions):
            mine = owner == k
            local[mine] = np.arange(int(mine.sum()), dtype=np.int32)
        fixed = _fixed_width(registry)
        if fixed is None:
            return cls(codes, owner, local, None, None)
        sorted_at = np.argsort(fixed, kind="stable")
        return cls(codes, owner, local, fixed[sorted_at], sorted_at)

    @cached_property
    def lookup(self) -> pd.Index:
        """The USCCs as an index, for codes a binary search cannot take (built on first use)."""
        lookup = pd.Index(self.codes)
        lookup.get_indexer(self.codes[:1])  # its hash table is built here, once, not per batch
        return lookup

    def positions(self, uscc: pa.Array) -> np.ndarray:
        """Each USCC's position in the registry (-1 for none or a missing one)."""
        fixed = _fixed_width(uscc, self.keys.dtype.itemsize) if self.keys is not None else None
        if fixed is None or self.sorted_at is None or self.keys is None:
            return self.lookup.get_indexer(uscc.to_numpy(zero_copy_only=False))
        at = np.minimum(np.searchsorted(self.keys, fixed), len(self.keys) - 1)
        return np.where(self.keys[at] == fixed, self.sorted_at[at], -1)


def _fixed_width(strings: pa.Array, width: int | None = None) -> np.ndarray | None:
    """Text as NumPy fixed-width bytes, without a copy, when none is missing and every value has the same byte
    length (``width`` when given); None otherwise."""
    if strings.null_count or not pa.types.is_string(strings.type) or not len(strings):
        return None
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32, count=len(strings) + 1,
                            offset=4 * strings.offset)
    lengths = np.diff(offsets)
    size = int(lengths[0]) if width is None else width
    if size <= 0 or not np.all(lengths == size):
        return None
    return np.frombuffer(strings.buffers()[2], dtype=f"S{size}", count=len(strings), offset=int(offsets[0]))


def partition_accepted(ingest_dir: Path, work_dir: Path, partitions: int,
                       batch_rows: int = _BATCH_ROWS, feature_set: FeatureSet = CATALOGUE) -> list[Path]:
    """Cut every accepted table the feature set reads into ``partitions`` folders by USCC hash, one batch in
    memory at a time, keeping only the columns it reads (the shuffle on shared storage a Dask cluster needs).

    The USCC strings are hashed once, on the registry; every other row finds its enterprise by a look-up of
    its batch's USCC dictionary (read as Parquet dictionary pages, not strings) and carries it as
    ``_enterprise`` (its position in its partition's registry) instead of the USCC, and text columns are
    dictionary-encoded, so a partition reads back as numbers and small codes.
    """
    folders = [Path(work_dir) / f"partition={k:05d}" for k in range(partitions)]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    registry = _Registry.of(ingest_dir, partitions)

    def to_disk(source: str) -> None:
        path = accepted_path(ingest_dir, source)
        columns, schema = _source_columns(path, source, needed_columns(source, feature_set))
        sinks = [pa.OSFile(str(folder / f"{source}.arrows"), "wb") for folder in folders]
        writers = [pa.ipc.new_stream(sink, schema) for sink in sinks]
        try:
            for k, piece in _slices(path, columns, schema, registry, partitions, batch_rows):
                writers[k].write_table(piece)
        finally:
            for writer, sink in zip(writers, sinks, strict=True):
                writer.close()
                sink.close()

    with ThreadPoolExecutor(max_workers=2) as pool:  # Arrow releases the GIL: two sources at a time
        for future in [pool.submit(to_disk, source) for source in feature_set.columns]:
            future.result()
    return folders


@dataclass(frozen=True)
class _HeldBatch:
    """One batch as read, its rows grouped by partition and each column converted once as the encoder
    converts it (``Encoded.of_arrow``): dates int64 ns, numbers float64 with NaN, ``_enterprise``, and text as
    codes into a table of its strings. Partition ``k`` holds rows ``bounds[k]`` to ``bounds[k + 1]``."""

    arrays: dict[str, np.ndarray]
    strings: dict[str, np.ndarray]
    bounds: np.ndarray
    days: frozenset[str] = frozenset()
    """Date columns held as int32 day numbers (half the memory of int64 nanoseconds): every date a whole day."""

    @classmethod
    def of(cls, table: pa.Table, order: np.ndarray, bounds: np.ndarray) -> _HeldBatch:
        arrays, strings, days = {}, {}, set()
        for name in table.column_names:
            column = table.column(name).combine_chunks()
            kind = column.type
            if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
                values = _day_numbers(column)
                if values is None:
                    values = arrow_ints(column.cast(pa.timestamp("ns")).cast(pa.int64()), fill=NAT)
                else:
                    days.add(name)
            elif pa.types.is_floating(kind):
                column = column.cast(pa.float64())
                values = (column if column.null_count == 0 else pc.fill_null(column, np.nan)).to_numpy()
            elif pa.types.is_dictionary(kind):
                names = [str(n) for n in column.dictionary.to_pylist()]
                strings[name] = np.array([*names, ""])
                values = arrow_ints(column.indices, fill=len(names)).astype(np.int32)
            elif name == ENTERPRISE:
                values = column.to_numpy()
            else:
                values = text(pd.Series(column.to_numpy(zero_copy_only=False)))
            arrays[name] = np.take(values, order)  # grouped by partition here, where the batch is in cache
        return cls(arrays, strings, bounds, frozenset(days))

    def rows(self, name: str, partition: int) -> np.ndarray:
        """Column ``name`` of the partition's rows (dates as int64 ns, text as its strings)."""
        values = self.arrays[name][self.bounds[partition]:self.bounds[partition + 1]]
        if name in self.days:
            return np.where(values == _NO_DAY, NAT, values.astype(np.int64) * DAY_NS)
        return self.strings[name][values] if name in self.strings else values


_NO_DAY = np.iinfo(np.int32).min


def _day_numbers(column: pa.Array) -> np.ndarray | None:
    """A date column as int32 days since 1970 (``_NO_DAY`` where missing), or None when some value has a time
    of day (or a time zone) that day numbers would lose."""
    if pa.types.is_timestamp(column.type) and column.type.tz is not None:
        return None
    days = column.cast(pa.date32(), safe=False)
    if pc.all(pc.equal(days.cast(column.type), column)).as_py() is False:  # some time of day would be lost
        return None
    days = days.cast(pa.int32())
    return (pc.fill_null(days, _NO_DAY) if days.null_count else days).to_numpy()


@dataclass
class HeldPartition:
    """A partition cut in this process's memory: per source, the batches that hold its rows, gathered only when
    a job takes them (in the job's thread, straight into encoder arrays)."""

    name: str
    index: int
    batches: dict[str, list[_HeldBatch]] | None

    def take(self) -> dict[str, dict[str, np.ndarray]]:
        """Per source, the partition's columns as ``EncodedRegion.of_arrays`` reads them; handed over once, so
        the batches can go when every partition has its rows."""
        batches, self.batches = self.batches, None
        if batches is None:
            raise RuntimeError(f"partition {self.name} was already taken")
        return {source: {name: np.concatenate([b.rows(name, self.index) for b in held])
                         for name in held[0].arrays} for source, held in batches.items()}


def partition_in_memory(ingest_dir: Path, partitions: int, batch_rows: int = _BATCH_ROWS,
                        feature_set: FeatureSet = CATALOGUE) -> list[HeldPartition]:
    """As :func:`partition_accepted`, kept in memory instead of written: the one-machine shuffle. Two threads
    read the row groups of every source; each batch is converted once and grouped by partition, and a
    partition's arrays are gathered when it is profiled. The same rows in the same order as the partition
    folders hold."""
    registry = _Registry.of(ingest_dir, partitions)
    tasks = []
    for source in feature_set.columns:
        path = accepted_path(ingest_dir, source)
        columns, schema = _source_columns(path, source, needed_columns(source, feature_set))
        groups = [group for part in ds.dataset(path, format=_parquet_format(path)).get_fragments()
                  for group in part.split_by_row_group()]
        tasks += [(source, columns, schema, group) for group in groups] or [(source, columns, schema, None)]

    def cut(task: tuple[str, list[str], pa.Schema, ds.ParquetFileFragment | None]) -> list[_HeldBatch]:
        _, columns, schema, group = task
        if group is None:  # a source with no rows still names its columns
            return [_HeldBatch.of(schema.empty_table(), np.zeros(0, np.int64), np.zeros(partitions + 1, np.int64))]
        reading = group.to_batches(columns=["uscc", *[c for c in columns if c != "uscc"]], batch_size=batch_rows,
                                   use_threads=False)
        held = []
        for batch in reading:
            local, order, bounds = _grouping(batch.column("uscc"), registry, partitions)
            table = pa.Table.from_batches([batch]).select(columns)
            table = table.append_column(ENTERPRISE, pa.array(local, pa.int32()))
            held.append(_HeldBatch.of(table, order[:bounds[-1]], bounds))
        return held

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(cut, tasks))
    by_source: dict[str, list[_HeldBatch]] = {}
    for (source, *_), held in zip(tasks, done, strict=True):
        by_source.setdefault(source, []).extend(held)
    return [HeldPartition(f"{k:05d}", k, dict(by_source)) for k in range(partitions)]


def in_memory_bytes(ingest_dir: Path, feature_set: FeatureSet = CATALOGUE) -> int:
    """About how much memory :func:`partition_in_memory` holds: rows times the width of the columns kept (dates
    as day numbers), from the Parquet footers."""
    total = 0
    for source in feature_set.columns:
        path = accepted_path(ingest_dir, source)
        rows = sum(f.metadata.num_rows for f in ds.dataset(path, format="parquet").get_fragments())
        _, schema = _source_columns(path, source, needed_columns(source, feature_set))
        total += rows * sum(_width(f.type) for f in schema)
    return total


def _width(kind: pa.DataType) -> int:
    """Bytes a value of ``kind`` takes held in memory: a date's day number, a text code, about 32 for other
    text."""
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind) or pa.types.is_dictionary(kind):
        return 4
    try:
        return max(int(kind.bit_width) // 8, 1)
    except ValueError:
        return 32


def _source_columns(path: Path, source: str, needed: list[str]) -> tuple[list[str], pa.Schema]:
    """The columns of ``source`` a partition keeps (``_superseded_on`` only if some row has one) and the
    partition schema."""
    schema = ds.dataset(path, format="parquet").schema
    columns = [c for c in needed if c in schema.names and not (c == "_superseded_on" and _all_null(path, c))]
    return columns, _partition_schema(schema, columns, source)


def _grouping(uscc: pa.Array, registry: _Registry, partitions: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's ``_enterprise`` (position in its partition's registry), the row order that groups rows by
    partition (a stable sort on small integers, so each partition keeps the source's order; rows of unknown
    enterprises last) and where each partition's rows start and end in that order. A dictionary-encoded USCC
    column is looked up once per distinct code, its partition and position found per code and mapped to the
    rows, rather than hashing every row's string."""
    if pa.types.is_dictionary(uscc.type):
        found = registry.positions(uscc.dictionary)
        codes = arrow_ints(uscc.indices, fill=len(found))  # a missing USCC: the extra code, no enterprise
        found = np.append(found, -1)
    else:
        found, codes = registry.positions(uscc), None
    known = found >= 0
    position = np.where(known, found, 0)
    part_of = np.where(known, registry.owner[position], partitions).astype(np.int8 if partitions < 127 else np.int16)
    local_of = np.where(known, registry.local[position], 0).astype(np.int32)
    parts, local = (part_of, local_of) if codes is None else (part_of[codes], local_of[codes])
    order = np.argsort(parts, kind="stable")
    return local, order, np.searchsorted(parts[order], np.arange(partitions + 1))


def _batches(path: Path, columns: list[str], registry: _Registry, partitions: int,
             batch_rows: int) -> Iterator[tuple[pa.Table, np.ndarray, np.ndarray]]:
    """One source a batch at a time: its ``columns`` with ``_enterprise``, and its rows' grouping by partition
    (:func:`_grouping`)."""
    dataset = ds.dataset(path, format=_parquet_format(path))
    batches = dataset.to_batches(columns=["uscc", *[c for c in columns if c != "uscc"]], batch_size=batch_rows,
                                 batch_readahead=1, fragment_readahead=1)  # memory: a batch or two, not 16
    for batch in batches:
        local, order, bounds = _grouping(batch.column("uscc"), registry, partitions)
        table = pa.Table.from_batches([batch]).select(columns)
        yield table.append_column(ENTERPRISE, pa.array(local, pa.int32())), order, bounds


def _slices(path: Path, columns: list[str], schema: pa.Schema, registry: _Registry, partitions: int,
            batch_rows: int) -> Iterator[tuple[int, pa.Table]]:
    """One source's rows as (partition, piece): per batch one take into partition order, then a zero-copy
    slice per partition."""
    for table, order, bounds in _batches(path, columns, registry, partitions, batch_rows):
        ordered = table.take(pa.array(order))
        for k in range(partitions):
            if bounds[k + 1] > bounds[k]:
                yield k, ordered.slice(bounds[k], bounds[k + 1] - bounds[k]).cast(schema)


def needed_columns(source: str, feature_set: FeatureSet = CATALOGUE) -> list[str]:
    """The columns a feature set reads from ``source`` (the USCC only in registration; elsewhere
    ``_enterprise``)."""
    spec = SOURCES_BY_NAME[source]
    wanted = dict.fromkeys([*(("uscc",) if source == "registration" else ()), spec.event, spec.available,
                            *feature_set.columns[source], "_superseded_on"])
    return list(wanted)


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
    """Profile one partition (a folder, or held in memory) at the as-of dates and write its part file
    (picklable for pools and Dask)."""

    dates: list[pd.Timestamp]
    out_dir: Path
    feature_set: FeatureSet = CATALOGUE

    def __call__(self, partition: Path | HeldPartition) -> int:
        if isinstance(partition, HeldPartition):
            name, tables = partition.name, partition.take()
        else:
            name, tables = partition.name.split("=")[1], _read_partition(partition, self.feature_set.columns)
        frame = profile_partition(tables, self.dates, self.feature_set)
        del tables
        frame.to_parquet(self.out_dir / f"part-{name}.parquet", index=False)
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
                   *, batch_rows: int = _BATCH_ROWS, feature_set: FeatureSet = CATALOGUE,
                   memory_budget: int = IN_MEMORY_BUDGET) -> Snapshot:
    """Build the snapshot of ``as_of`` from ``ingest_dir`` on ``engine`` and put it in place atomically
    (``feature_set``: the catalogue, or a subset that lands under its own version's folder).

    On a ``LocalEngine``, when the columns read fit in ``memory_budget`` bytes (:func:`in_memory_bytes`), the
    partitions are cut in memory and profiled by threads of this process; otherwise (and on Dask) they are
    cut into folders on disk that each worker reads. Both give the same partitions and the same parts.
    """
    as_of = pd.Timestamp(as_of)
    target = snapshot_dir(root, as_of, feature_set.version)
    staging = staging_folder(target)  # also removes what a killed build of the same snapshot left behind
    work: Path | None = None
    try:
        job = _PartitionJob([as_of], staging, feature_set)
        if isinstance(engine, LocalEngine) and in_memory_bytes(ingest_dir, feature_set) <= memory_budget:
            held = partition_in_memory(ingest_dir, engine.partitions, batch_rows, feature_set)
            rows = sum(engine.map_in_threads(job, held))
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
