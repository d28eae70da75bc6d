"""Natural keys across a whole source: exact duplicates dropped, conflicts quarantined, corrections versioned.

Checked chunks are written once, as the part files of the accepted dataset ``accepted/<source>.parquet/``;
only a sorted 64-bit key hash of every row stays in memory (8 bytes a row). Rows whose key repeats (rare) are
read back from the parts that hold them and compared in full:

- an exact repeat of an earlier row is a **duplicate**: dropped and counted;
- the same key and the same availability date with different values is a **conflict**: the later row is
  quarantined (``duplicate.conflict``); a provider must send a correction with a later availability date;
- the same key with a later availability date is a **correction**: both are kept, and the earlier version
  gets ``_superseded_on`` = the correction's availability date, so the source can be read as of any date.

Only the parts holding a dropped or superseded row are rewritten; every other part is final as first written.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.buckets import buckets_of, stored_buckets, write_bucketed
from features.ingest_checks import quarantine_schema
from features.schemas import ColumnKind, SourceSpec

_MIX = np.uint64(0x9E3779B97F4A7C15)
_TEXT_FORMATS = {ColumnKind.DATE: "%Y-%m-%d", ColumnKind.PERIOD: "%Y-%m", ColumnKind.YEAR: "%Y"}
_TIMESTAMP = pa.timestamp("ns")


def accepted_schema(spec: SourceSpec) -> pa.Schema:
    """Arrow schema of an accepted table: canonical columns typed, then _superseded_on, _file and _line."""
    def arrow_type(kind: ColumnKind) -> pa.DataType:
        if kind in _TEXT_FORMATS:
            return _TIMESTAMP
        if kind in (ColumnKind.NUMBER, ColumnKind.AMOUNT):
            return pa.float64()
        return pa.string()
    fields = [pa.field(c.name, arrow_type(c.kind)) for c in spec.columns]
    fields += [pa.field("_superseded_on", _TIMESTAMP), pa.field("_file", pa.string()),
               pa.field("_line", pa.int64())]
    return pa.schema(fields)


def write_part(table: pa.Table, path: Path, buckets: int = 1, row_buckets: np.ndarray | None = None) -> None:
    """Write one Parquet part, cheaply: dictionary pages only for text and dates (numbers rarely repeat, and
    trying a dictionary for them doubles the write time); numbers stored uncompressed (snappy gains a quarter
    of their size for more than half the write time), ``_line`` delta-encoded, the rest snappy; rows grouped
    into ``buckets`` by USCC hash (``row_buckets`` when known), a row group each (``features.buckets``: what
    profile partitions read).

    Dictionary-encoded columns are written as they are, without hashing each cell again; no Arrow schema is
    stored, so every part reads back with the plain types of ``accepted_schema`` whatever its encoding.
    """
    numbers = {f.name for f in table.schema if pa.types.is_floating(f.type)}
    dictionary = [f.name for f in table.schema if f.name not in numbers and f.name != "_line"]
    compression = {f.name: "none" if f.name in numbers or f.name == "_line" else "snappy" for f in table.schema}
    write_bucketed(table, path, buckets, row_buckets, use_dictionary=dictionary, compression=compression,
                   store_schema=False,
                   column_encoding={"_line": "DELTA_BINARY_PACKED"} if "_line" in table.column_names else None)


def registry_positions(column: pa.Array, registry: pa.Array) -> np.ndarray:
    """Each cell's position in the registry (-1 for a code outside it or none), looked up once per distinct value
    of a dictionary column."""
    if pa.types.is_dictionary(column.type):
        found = np.append(registry_positions(column.dictionary, registry), -1)
        return found[pc.fill_null(column.indices, len(found) - 1).to_numpy(zero_copy_only=False)]
    return pc.index_in(column, value_set=registry).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _value_hash(column: pa.Array, kind: ColumnKind, registry: pa.Array | None) -> np.ndarray:
    """One uint64 per cell, equal for equal values; a dictionary column is hashed once per distinct value."""
    if pa.types.is_dictionary(column.type):
        values = pa.concat_arrays([column.dictionary, pa.nulls(1, column.dictionary.type)])
        rows = pc.fill_null(column.indices, len(values) - 1).to_numpy(zero_copy_only=False)
        return _value_hash(values, kind, registry)[rows]
    if kind in _TEXT_FORMATS:
        return column.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.uint64)
    if kind is ColumnKind.USCC and registry is not None:
        return registry_positions(column, registry).astype(np.uint64)
    return pd.util.hash_array(column.to_numpy(zero_copy_only=False).astype(object))


def key_hash(table: pa.Table, spec: SourceSpec, registry: pa.Array | None,
             uscc_positions: np.ndarray | None = None) -> np.ndarray:
    """One uint64 per row, equal when the natural key is equal (collisions are resolved on read-back);
    ``uscc_positions``: the USCCs' registry positions when the caller has them already."""
    combined = np.zeros(table.num_rows, dtype=np.uint64)
    for name in spec.key:
        if uscc_positions is not None and spec.column(name).kind is ColumnKind.USCC and registry is not None:
            values = uscc_positions.astype(np.uint64)  # as _value_hash: the position, -1 wrapping alike
        else:
            values = _value_hash(table.column(name).combine_chunks(), spec.column(name).kind, registry)
        with np.errstate(over="ignore"):
            combined = (combined * _MIX) ^ values
    return combined


@dataclass
class SourceParts:
    """The accepted part files of one source as written, and the in-memory key index over them."""

    spec: SourceSpec
    folder: Path
    registry: pa.Array | None = None
    buckets: int = 1
    """Row groups by USCC hash in every part (``write_part``)."""
    registry_buckets: np.ndarray | None = None
    """The bucket of each registry entry, hashed once per ingest: a row's bucket is then a look-up."""
    paths: list[Path] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    sorted_keys: list[np.ndarray] = field(default_factory=list)

    def add(self, table: pa.Table) -> None:
        """Write a checked chunk's accepted rows as the next part (``_superseded_on`` empty) and index their keys."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"part-{len(self.paths):05d}.parquet"
        names = accepted_schema(self.spec).names
        columns = [table.column(name) if name != "_superseded_on" else pa.nulls(table.num_rows, _TIMESTAMP)
                   for name in names]
        positions = (registry_positions(table.column("uscc").combine_chunks(), self.registry)
                     if self.registry is not None else None)
        write_part(pa.table(columns, names=names), path, self.buckets, self._row_buckets(table, positions))
        keys = key_hash(table, self.spec, self.registry, positions)
        keys.sort()
        self.paths.append(path)
        self.rows.append(table.num_rows)
        self.sorted_keys.append(keys)

    def _row_buckets(self, table: pa.Table, positions: np.ndarray | None) -> np.ndarray | None:
        """Each row's bucket from its registry entry's (rows outside the registry hashed themselves); None to
        let ``write_part`` hash every row (no registry: registration itself)."""
        if self.buckets == 1 or positions is None or self.registry_buckets is None:
            return None
        known = positions >= 0
        bucket = self.registry_buckets[np.where(known, positions, 0)]
        if not known.all():
            outside = np.flatnonzero(~known)
            bucket[outside] = buckets_of(table.column("uscc").take(pa.array(outside)), self.buckets)
        return bucket

    def finish(self) -> None:
        """An empty source still gets one (empty) part, so that the dataset has a schema."""
        if not self.paths:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / "part-00000.parquet"
            write_part(accepted_schema(self.spec).empty_table(), path, self.buckets)
            self.paths.append(path)
            self.rows.append(0)
            self.sorted_keys.append(np.array([], dtype=np.uint64))

    @property
    def offsets(self) -> np.ndarray:
        """Global row number of the first row of every part."""
        return np.concatenate([[0], np.cumsum(self.rows, dtype=np.int64)])[:-1].astype(np.int64)


@dataclass(frozen=True)
class Resolution:
    """What the key pass decided: rows to drop or quarantine, and superseded dates, by global row number."""

    duplicates: np.ndarray
    conflicts: pd.DataFrame
    superseded_on: pd.Series
    duplicates_by_file: Counter[str]
    conflicts_by_file: Counter[str]

    @property
    def dropped(self) -> np.ndarray:
        """Global row numbers leaving the accepted table: duplicates and conflicts."""
        return np.union1d(self.duplicates, self.conflicts["_row"].to_numpy(dtype=np.int64))


def _repeated_keys(parts: SourceParts) -> np.ndarray:
    """Sorted distinct key hashes that occur more than once in the source."""
    if not parts.sorted_keys:
        return np.array([], dtype=np.uint64)
    keys = np.concatenate(parts.sorted_keys)
    keys.sort(kind="stable")  # a merge of the parts' sorted runs
    return np.unique(keys[1:][keys[1:] == keys[:-1]])


def _contains(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Element-wise ``value in sorted_set`` for a sorted uint64 set."""
    if len(sorted_set) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return sorted_set[at] == values


def _read_rows(parts: SourceParts, repeated: np.ndarray) -> pd.DataFrame:
    """The full rows whose key hash is in ``repeated``, with their global ``_row`` number."""
    frames = []
    for path, keys, start in zip(parts.paths, parts.sorted_keys, parts.offsets, strict=True):
        if not _contains(keys, repeated).any():
            continue
        table = pq.read_table(path)
        local = np.flatnonzero(_contains(key_hash(table, parts.spec, parts.registry), repeated))
        frame = table.take(pa.array(local, pa.int64())).drop_columns(["_superseded_on"]).to_pandas()
        frame["_row"] = local + start
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*parts.spec.column_names, "_file", "_line", "_row"])
    return pd.concat(frames, ignore_index=True)


def resolve(parts: SourceParts) -> Resolution:
    """Decide duplicates, conflicts and superseded versions for one source."""
    spec = parts.spec
    rows = _read_rows(parts, _repeated_keys(parts)).sort_values("_row", kind="stable")
    values = list(spec.column_names)
    key = list(spec.key)
    is_duplicate = rows.duplicated(subset=values, keep="first")
    duplicates = rows[is_duplicate]
    rest = rows[~is_duplicate]
    is_conflict = rest.duplicated(subset=[*key, spec.available], keep="first")
    conflicts = rest[is_conflict].copy()
    if len(conflicts):
        first = rest[~is_conflict].set_index([*key, spec.available])[["_file", "_line"]]
        origin = first.reindex(pd.MultiIndex.from_frame(conflicts[[*key, spec.available]]))
        conflicts["_first_file"] = origin["_file"].to_numpy()
        conflicts["_first_line"] = origin["_line"].to_numpy()
    versions = rest[~is_conflict].sort_values([*key, spec.available, "_row"], kind="stable")
    following = versions.groupby(key, sort=False, dropna=False)[spec.available].shift(-1)
    superseded = pd.Series(pd.to_datetime(following.to_numpy()), index=versions["_row"].to_numpy(dtype=np.int64),
                           dtype="datetime64[ns]").dropna()
    return Resolution(
        duplicates=duplicates["_row"].to_numpy(dtype=np.int64),
        conflicts=conflicts,
        superseded_on=superseded,
        duplicates_by_file=Counter(duplicates["_file"].tolist()),
        conflicts_by_file=Counter(conflicts["_file"].tolist()),
    )


def apply_resolution(parts: SourceParts, resolution: Resolution) -> int:
    """Rewrite the parts that hold a dropped or superseded row (each through a temporary file); return the
    number of accepted rows."""
    dropped = resolution.dropped
    superseded = resolution.superseded_on.sort_index()
    changed = np.union1d(dropped, superseded.index.to_numpy(dtype=np.int64))
    for path, n, start in zip(parts.paths, parts.rows, parts.offsets, strict=True):
        if not ((changed >= start) & (changed < start + n)).any():
            continue
        with pq.ParquetFile(path) as part:  # the rows and, from the same footer, the buckets they lie in
            table, stored = part.read(), stored_buckets(part.metadata)
        rows = np.arange(start, start + n, dtype=np.int64)
        dates = superseded.reindex(rows).to_numpy(dtype="datetime64[ns]")
        table = table.set_column(table.schema.get_field_index("_superseded_on"), "_superseded_on",
                                 pa.array(dates, _TIMESTAMP, from_pandas=True))
        kept = ~np.isin(rows, dropped)
        table = table.filter(pa.array(kept))
        temporary = path.with_name(f".{path.name}.rewrite")
        write_part(table, temporary, parts.buckets, None if stored is None else stored[kept])
        os.replace(temporary, path)
    return sum(parts.rows) - len(dropped)


def conflict_quarantine(spec: SourceSpec, conflicts: pd.DataFrame) -> pa.Table:
    """Quarantine rows for conflicts: the values as text, and which earlier row they contradict."""
    columns: dict[str, list[str]] = {}
    for column in spec.columns:
        values = conflicts[column.name]
        if column.kind in _TEXT_FORMATS:
            text = values.dt.strftime(_TEXT_FORMATS[column.kind]).fillna("")
        elif column.kind in (ColumnKind.NUMBER, ColumnKind.AMOUNT):
            text = values.map(lambda v: "" if pd.isna(v) else f"{v:.15g}")
        else:
            text = values.fillna("").astype(str)
        columns[column.name] = text.tolist()
    key = ",".join(spec.key)
    messages = [
        f"{key}: this key with {spec.available} {available:%Y-%m-%d} was already delivered in {first_file} "
        f"line {first_line} with different values (duplicate.conflict); send a correction with a later "
        f"{spec.available}"
        for available, first_file, first_line in zip(
            conflicts[spec.available], conflicts["_first_file"], conflicts["_first_line"], strict=True)
    ]
    arrays: dict[str, pa.Array] = {name: pa.array(values, pa.string()) for name, values in columns.items()}
    arrays["_file"] = pa.array(conflicts["_file"].tolist(), pa.string())
    arrays["_line"] = pa.array(conflicts["_line"].tolist(), pa.int64())
    arrays["_field"] = pa.array([key] * len(conflicts), pa.string())
    arrays["_rule"] = pa.array(["duplicate.conflict"] * len(conflicts), pa.string())
    arrays["_message"] = pa.array(messages, pa.string())
    return pa.table(arrays, schema=quarantine_schema(spec))
