"""Cutting accepted tables into partitions by USCC hash, keeping only the columns a feature set reads: into
folders on disk (``partition_accepted``: the shuffle a Dask cluster reads from shared storage), or, with
``features.partitions_in_memory``, into this process's memory. Both use the same registry, row grouping and
columns, so a partition holds the same rows in the same order either way.

Each row carries ``_enterprise``, its enterprise's position in its partition's registry, instead of the USCC;
USCCs are hashed once, on the registry, and a batch's USCC dictionary (read as Parquet dictionary pages, not
strings) is found in the registry by binary search over fixed-width bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from features.engines import partition_of
from features.profile_columns import ENTERPRISE, arrow_ints
from features.profiles import CATALOGUE, FeatureSet
from features.schemas import SOURCES_BY_NAME

BATCH_ROWS = 1_000_000


def accepted_path(ingest_dir: Path, source: str) -> Path:
    """The accepted table of ``source`` (a Parquet file or a folder of parts)."""
    return Path(ingest_dir) / "accepted" / f"{source}.parquet"


@dataclass(frozen=True)
class Registry:
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
    def of(cls, ingest_dir: Path, partitions: int) -> Registry:
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
                       batch_rows: int = BATCH_ROWS, feature_set: FeatureSet = CATALOGUE) -> list[Path]:
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
    registry = Registry.of(ingest_dir, partitions)

    def to_disk(source: str) -> None:
        path = accepted_path(ingest_dir, source)
        columns, schema = source_columns(path, source, needed_columns(source, feature_set))
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


def source_columns(path: Path, source: str, needed: list[str]) -> tuple[list[str], pa.Schema]:
    """The columns of ``source`` a partition keeps (``_superseded_on`` only if some row has one) and the
    partition schema."""
    schema = ds.dataset(path, format="parquet").schema
    columns = [c for c in needed if c in schema.names and not (c == "_superseded_on" and _all_null(path, c))]
    return columns, partition_schema(schema, columns, source)


def grouping(uscc: pa.Array, registry: Registry, partitions: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's ``_enterprise`` (position in its partition's registry), the row order that groups rows by
    partition (a stable sort on small integers, Arrow's counting sort, so each partition keeps the source's
    order; rows of unknown enterprises last) and where each partition's rows start and end in that order. A
    dictionary-encoded USCC column is looked up once per distinct code, its partition and position found per
    code and mapped to the rows, rather than hashing every row's string."""
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
    if codes is None:
        parts, local = part_of, local_of
        rows_per_part = np.bincount(parts, minlength=partitions + 1)
    else:
        parts, local = part_of[codes], local_of[codes]
        rows_per_code = np.bincount(codes, minlength=len(found))  # int64 codes: no conversion of every row
        rows_per_part = np.bincount(part_of, weights=rows_per_code, minlength=partitions + 1).astype(np.int64)
    order = pc.array_sort_indices(pa.array(parts)).to_numpy().view(np.int64)  # stable: a counting sort
    bounds = np.zeros(partitions + 1, dtype=np.int64)
    np.cumsum(rows_per_part[:partitions], out=bounds[1:])
    return local, order, bounds


def _batches(path: Path, columns: list[str], registry: Registry, partitions: int,
             batch_rows: int) -> Iterator[tuple[pa.Table, np.ndarray, np.ndarray]]:
    """One source a batch at a time: its ``columns`` with ``_enterprise``, and its rows' grouping by partition
    (:func:`grouping`)."""
    dataset = ds.dataset(path, format=parquet_format(path))
    batches = dataset.to_batches(columns=["uscc", *[c for c in columns if c != "uscc"]], batch_size=batch_rows,
                                 batch_readahead=1, fragment_readahead=1)  # memory: a batch or two, not 16
    for batch in batches:
        local, order, bounds = grouping(batch.column("uscc"), registry, partitions)
        table = pa.Table.from_batches([batch]).select(columns)
        yield table.append_column(ENTERPRISE, pa.array(local, pa.int32())), order, bounds


def _slices(path: Path, columns: list[str], schema: pa.Schema, registry: Registry, partitions: int,
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
    return null_throughout((f.metadata for f in ds.dataset(path, format="parquet").get_fragments()), column)


def null_throughout(footers: Iterable[pq.FileMetaData], column: str) -> bool:
    """Whether the statistics of every row group of these parts show ``column`` null in every row; False where a
    row group has none."""
    for metadata in footers:
        at = metadata.schema.names.index(column)
        for group in range(metadata.num_row_groups):
            chunk = metadata.row_group(group).column(at)
            if not chunk.is_stats_set or chunk.statistics.null_count != chunk.num_values:
                return False
    return True


def parquet_format(path: Path) -> ds.ParquetFileFormat:
    """Parquet read with every text column as a dictionary, so codes never become Python strings: the USCC,
    dictionary-paged as ingest writes it, then decodes about three times faster and is looked up per code."""
    schema = ds.dataset(path, format="parquet").schema
    text = {f.name for f in schema if pa.types.is_string(f.type)}
    return ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=text))


def partition_schema(schema: pa.Schema, columns: Sequence[str], source: str) -> pa.Schema:
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
