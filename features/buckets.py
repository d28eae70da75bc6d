"""Accepted tables bucketed at rest by USCC hash, so a profile partition reads its own rows and nothing else.

Ingest writes every part file of an accepted table with its rows grouped by bucket (``partition_of`` of the
USCC with the bucket count), one row group per bucket present, and names in the file's metadata the bucket of
each row group. When the profile build's partition count divides the bucket count, partition ``k`` is buckets
``k``, ``k + P``, ``k + 2P`` … (a USCC's partition is its bucket modulo P), so each partition job reads its row
groups straight from the parts: no shuffle through memory or disk, on one machine or on a Dask cluster. Other
partition counts, and tables written before bucketing, go through the shuffle (``features.partitions``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.engines import partition_of
from features.partitions import null_throughout, partition_schema
from features.profile_columns import ENTERPRISE

BUCKETS_KEY = "xinyi.buckets"
"""Key of a part file's metadata: ``{"count": B, "row_groups": [bucket of each row group]}``."""


def buckets_of(uscc: pa.Array | pa.ChunkedArray, buckets: int) -> np.ndarray:
    """Each row's bucket: ``partition_of`` its USCC, hashed once per distinct code (a missing one: bucket 0)."""
    codes = uscc.combine_chunks() if isinstance(uscc, pa.ChunkedArray) else uscc
    if not pa.types.is_dictionary(codes.type):
        codes = codes.dictionary_encode()
    names = codes.dictionary.to_numpy(zero_copy_only=False)
    per_code = np.append(partition_of(names, buckets) if len(names) else np.zeros(0, np.int64), 0)
    indices = codes.indices.fill_null(len(names)) if codes.null_count else codes.indices
    return per_code[indices.to_numpy(zero_copy_only=False)]


def write_bucketed(table: pa.Table, path: Path, buckets: int, row_buckets: np.ndarray | None = None,
                   **options: Any) -> None:
    """Write ``table`` as one Parquet file (``options`` as ``pyarrow.parquet.ParquetWriter`` takes them) with its
    rows grouped by bucket (``row_buckets`` when the caller knows them, else :func:`buckets_of`), stable within
    each, one row group per bucket present, and the layout in its metadata. One bucket writes the rows as they
    are, in one row group."""
    if buckets < 1:
        raise ValueError(f"buckets: must be at least 1, got {buckets}")
    if buckets == 1 or not table.num_rows:
        bucket = np.zeros(table.num_rows, dtype=np.int64)
    else:
        bucket = buckets_of(table.column("uscc"), buckets) if row_buckets is None else np.asarray(row_buckets)
    if np.any(np.diff(bucket) < 0):  # already grouped (a part rewritten, one bucket): written as it is
        table = table.take(pa.array(np.argsort(bucket, kind="stable")))
    bounds = np.concatenate([[0], np.cumsum(np.bincount(bucket, minlength=buckets))])
    present = [k for k in range(buckets) if bounds[k + 1] > bounds[k]]
    with pq.ParquetWriter(str(path), table.schema, **options) as writer:
        for k in present:
            rows = int(bounds[k + 1] - bounds[k])
            writer.write_table(table.slice(int(bounds[k]), rows), row_group_size=rows)
        writer.add_key_value_metadata({BUCKETS_KEY: json.dumps({"count": buckets, "row_groups": present})})


def _layout(footer: pq.FileMetaData) -> tuple[int, tuple[int, ...]] | None:
    """A part's declared bucket count and the bucket of each row group; None when it declares none."""
    declared = (footer.metadata or {}).get(BUCKETS_KEY.encode())
    if declared is None:
        return None
    layout = json.loads(declared)
    return int(layout["count"]), tuple(int(b) for b in layout["row_groups"])


def stored_buckets(footer: pq.FileMetaData) -> np.ndarray | None:
    """Each row's bucket in a part as written (from its footer: the layout and row-group sizes), or None without
    a layout: a part rewritten keeps its buckets without hashing again."""
    layout = _layout(footer)
    if layout is None:
        return None
    sizes = [footer.row_group(i).num_rows for i in range(footer.num_row_groups)]
    return np.repeat(np.asarray(layout[1], dtype=np.int64), sizes)


@dataclass(frozen=True)
class BucketedTable:
    """An accepted table whose every part declares the same bucket count: its parts (in name order, as a dataset
    reads them) and the bucket of each part's row groups."""

    count: int
    parts: tuple[tuple[Path, tuple[int, ...]], ...]

    @classmethod
    def of(cls, path: Path) -> BucketedTable | None:
        """The layout of a table (a Parquet file or a folder of parts); None when a part declares none or the
        parts disagree on the count."""
        path = Path(path)
        files = [path] if path.is_file() else sorted(
            p for p in path.glob("*.parquet") if not p.name.startswith((".", "_")))
        counts, parts = set(), []
        for file in files:
            layout = _layout(_footer(file))
            if layout is None:
                return None
            counts.add(layout[0])
            parts.append((file, layout[1]))
        return cls(counts.pop(), tuple(parts)) if len(counts) == 1 else None

    @property
    def schema(self) -> pa.Schema:
        """The columns as every part reads back (plain types: no Arrow schema is stored)."""
        return _footer(self.parts[0][0]).schema.to_arrow_schema().remove_metadata()

    def all_null(self, column: str) -> bool:
        """Whether the parts' statistics show ``column`` null in every row (``_superseded_on`` before any
        correction), so partitions need not read it; False where a row group has no statistics."""
        return null_throughout((_footer(file) for file, _ in self.parts), column)

    def row_groups_of(self, buckets: Iterable[int]) -> RowGroups:
        """The parts holding rows of ``buckets`` and which of their row groups hold them."""
        wanted = set(buckets)
        chosen = ((file, tuple(i for i, bucket in enumerate(row_groups) if bucket in wanted))
                  for file, row_groups in self.parts)
        return tuple((file, groups) for file, groups in chosen if groups)

    def read(self, buckets: Iterable[int], columns: Sequence[str], text: Sequence[str] = ()) -> pa.Table | None:
        """The rows of ``buckets`` (the parts' order, then the row groups'), ``text`` columns read as
        dictionaries; None when no part holds any."""
        return read_row_groups(self.row_groups_of(buckets), columns, text)


RowGroups = tuple[tuple[Path, tuple[int, ...]], ...]
"""Parts and the row groups to read of each, in order."""


def read_row_groups(row_groups: RowGroups, columns: Sequence[str], text: Sequence[str] = ()) -> pa.Table | None:
    """These row groups' ``columns`` as one table (a chunk a row group; ``text`` columns as dictionaries); None
    for none."""
    pieces = []
    for file, groups in row_groups:
        with pa.OSFile(str(file)) as handle:  # an open file: no file-system resolution per read
            reader = pq.ParquetFile(handle, metadata=_footer(file), read_dictionary=list(text))
            pieces.append(reader.read_row_groups(list(groups), columns=list(columns), use_threads=False))
    if not pieces:
        return None
    return pa.concat_tables(pieces).replace_schema_metadata(None)


def _footer(file: Path) -> pq.FileMetaData:
    """A part's footer, parsed once per process while the file is unchanged: every partition job reads a row
    group or two of every part, and parsing the footer again each time would cost as much as the decoding."""
    stat = os.stat(file)
    return _footer_of(str(file), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4096)
def _footer_of(file: str, mtime_ns: int, size: int) -> pq.FileMetaData:
    return pq.read_metadata(file)


@dataclass(frozen=True)
class BucketPartition:
    """A profile partition read straight from bucketed accepted tables (picklable: a pool or a Dask worker reads
    it from the same storage)."""

    name: str
    row_groups: Mapping[str, RowGroups]
    """Per source, the parts and row groups holding the partition's buckets."""
    columns: Mapping[str, tuple[str, ...]]
    """Per source, the columns a partition keeps (as the shuffle keeps them: ``_superseded_on`` only when some
    row has one)."""
    schemas: Mapping[str, pa.Schema]
    """Per source, the partition schema (as the shuffle writes it: text other than registration's USCC as
    dictionaries, ``_enterprise`` last)."""

    def read(self) -> dict[str, pa.Table]:
        """Per source, the partition's rows as the shuffle's partition files hold them: ``_enterprise`` (the
        position in the partition's registry, first appearances in registration order) instead of the USCC,
        which only registration keeps; rows of enterprises not in the registry are left out."""
        registration = self._source("registration")
        names = registration.column("uscc")
        registry = pc.unique(names)  # in order of first appearance
        out = {"registration": registration.append_column(
            ENTERPRISE, pc.index_in(names, value_set=registry).cast(pa.int32()))}
        for source in self.row_groups:
            if source != "registration":
                out[source] = self._located(source, registry)
        return out

    def _dictionaries(self, source: str) -> list[str]:
        """The columns read as dictionaries: those the partition schema holds so."""
        return [f.name for f in self.schemas[source] if pa.types.is_dictionary(f.type)]

    def _source(self, source: str) -> pa.Table:
        table = read_row_groups(self.row_groups[source], self.columns[source], self._dictionaries(source))
        schema = pa.schema([f for f in self.schemas[source] if f.name != ENTERPRISE])
        return schema.empty_table() if table is None else table.combine_chunks().cast(schema)

    def _located(self, source: str, registry: pa.Array) -> pa.Table:
        columns = self.columns[source]
        table = read_row_groups(self.row_groups[source], ["uscc", *columns], ["uscc", *self._dictionaries(source)])
        if table is None:
            return self.schemas[source].empty_table()
        enterprise = _positions(table.column("uscc"), registry)
        kept = table.select(list(columns)).combine_chunks()  # a chunk a column: zero-copy into NumPy, one cast
        kept = kept.append_column(ENTERPRISE, pa.array(enterprise))
        if (enterprise < 0).any():
            kept = kept.filter(pa.array(enterprise >= 0))
        return kept.cast(self.schemas[source])


def _positions(codes: pa.ChunkedArray, registry: pa.Array) -> np.ndarray:
    """Each row's position in the registry (-1: none), looked up once per code of its row group's own dictionary:
    the dictionaries are joined as they are (concatenating the row groups instead would merge them, hashing every
    code) and looked up in one call."""
    chunks = [chunk for chunk in codes.chunks if len(chunk)]
    if not chunks:
        return np.zeros(0, dtype=np.int32)
    names = pa.concat_arrays([chunk.dictionary for chunk in chunks])
    found = np.append(pc.index_in(names, value_set=registry).fill_null(-1).to_numpy(), -1).astype(np.int32)
    starts = np.cumsum([0, *[len(chunk.dictionary) for chunk in chunks[:-1]]])
    indices = pa.concat_arrays([chunk.indices for chunk in chunks])
    rows = pc.fill_null(indices, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    rows += np.repeat(starts, [len(chunk) for chunk in chunks])  # into the joined dictionaries
    if indices.null_count:
        rows[indices.is_null().to_numpy(zero_copy_only=False)] = len(names)  # a missing code: -1
    return found[rows]


def bucket_partitions(paths: Mapping[str, Path], partitions: int, needed: Mapping[str, Sequence[str]]
                      ) -> list[BucketPartition] | None:
    """The ``partitions`` partitions as bucket reads of the tables at ``paths`` (per source, reading the
    ``needed`` columns that it has, ``_superseded_on`` only where some row has one), or None when some table is
    not bucketed, the tables disagree on the bucket count, or ``partitions`` does not divide it. Footers are read
    here once; forked workers inherit them."""
    tables: dict[str, BucketedTable] = {}
    for source, path in paths.items():
        table = BucketedTable.of(path)
        if table is None:
            return None
        tables[source] = table
    counts = {table.count for table in tables.values()}
    if len(counts) != 1 or counts.pop() % partitions:
        return None
    columns, schemas = {}, {}
    for source, table in tables.items():
        names = table.schema.names
        columns[source] = tuple(c for c in needed[source] if c in names
                                and not (c == "_superseded_on" and table.all_null(c)))
        schemas[source] = partition_schema(table.schema, columns[source], source)
    count = next(iter(tables.values())).count
    return [BucketPartition(f"{k:05d}", {source: table.row_groups_of(range(k, count, partitions))
                                         for source, table in tables.items()}, columns, schemas)
            for k in range(partitions)]
