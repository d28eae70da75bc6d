"""Natural keys across a whole source: exact duplicates dropped, conflicts quarantined, corrections versioned.

Checked chunks are spilled to part files; only a 64-bit key hash and the availability date of every row stay
in memory (16 bytes a row). Rows whose key repeats (rare) are read back and compared in full:

- an exact repeat of an earlier row is a **duplicate**: dropped and counted;
- the same key and the same availability date with different values is a **conflict**: the later row is
  quarantined (``duplicate.conflict``); a provider must send a correction with a later availability date;
- the same key with a later availability date is a **correction**: both are kept, and the earlier version
  gets ``_superseded_on`` = the correction's availability date, so the source can be read as of any date.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.ingest_checks import quarantine_schema
from features.schemas import ColumnKind, SourceSpec

_MIX = np.uint64(0x9E3779B97F4A7C15)
_TEXT_FORMATS = {ColumnKind.DATE: "%Y-%m-%d", ColumnKind.PERIOD: "%Y-%m", ColumnKind.YEAR: "%Y"}


def accepted_schema(spec: SourceSpec) -> pa.Schema:
    """Arrow schema of an accepted table: canonical columns typed, then _superseded_on, _file and _line."""
    def arrow_type(kind: ColumnKind) -> pa.DataType:
        if kind in _TEXT_FORMATS:
            return pa.timestamp("ns")
        if kind in (ColumnKind.NUMBER, ColumnKind.AMOUNT):
            return pa.float64()
        return pa.string()
    fields = [pa.field(c.name, arrow_type(c.kind)) for c in spec.columns]
    fields += [pa.field("_superseded_on", pa.timestamp("ns")), pa.field("_file", pa.string()),
               pa.field("_line", pa.int64())]
    return pa.schema(fields)


def key_hash(table: pa.Table, spec: SourceSpec, registry: pa.Array | None) -> np.ndarray:
    """One uint64 per row, equal when the natural key is equal (collisions are resolved on read-back)."""
    combined = np.zeros(table.num_rows, dtype=np.uint64)
    for name in spec.key:
        column = table.column(name).combine_chunks()
        kind = spec.column(name).kind
        if kind in _TEXT_FORMATS:
            values = column.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.uint64)
        elif kind is ColumnKind.USCC and registry is not None:
            values = pc.index_in(column, value_set=registry).fill_null(-1).to_numpy(zero_copy_only=False)
            values = values.astype(np.int64).astype(np.uint64)
        else:
            values = pd.util.hash_array(column.to_numpy(zero_copy_only=False).astype(object))
        with np.errstate(over="ignore"):
            combined = (combined * _MIX) ^ values
    return combined


@dataclass
class SourceParts:
    """The spilled accepted chunks of one source and the in-memory key index over them."""

    spec: SourceSpec
    folder: Path
    paths: list[Path] = field(default_factory=list)
    keys: list[np.ndarray] = field(default_factory=list)
    available: list[np.ndarray] = field(default_factory=list)

    def add(self, table: pa.Table, registry: pa.Array | None) -> None:
        """Spill a checked chunk's accepted rows and index their keys."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"part-{len(self.paths):05d}.parquet"
        pq.write_table(table, path)
        self.paths.append(path)
        self.keys.append(key_hash(table, self.spec, registry))
        available = table.column(self.spec.available).combine_chunks().cast(pa.int64())
        self.available.append(available.to_numpy(zero_copy_only=False))


@dataclass(frozen=True)
class Resolution:
    """What the key pass decided: rows to drop or quarantine, and superseded dates, by global row number."""

    duplicates: np.ndarray
    conflicts: pd.DataFrame
    superseded_on: pd.Series
    duplicates_by_file: Counter[str]
    conflicts_by_file: Counter[str]


def _repeated_rows(parts: SourceParts) -> np.ndarray:
    """Global row numbers of every row whose key hash occurs more than once."""
    if not parts.keys:
        return np.array([], dtype=np.int64)
    keys = np.concatenate(parts.keys)
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    same = ordered[1:] == ordered[:-1]
    repeated = np.zeros(len(keys), dtype=bool)
    repeated[1:] |= same
    repeated[:-1] |= same
    return np.sort(order[repeated])


def _read_rows(parts: SourceParts, rows: np.ndarray) -> pd.DataFrame:
    """The full rows at global row numbers ``rows``, with their ``_row`` number."""
    frames = []
    start = 0
    for path, keys in zip(parts.paths, parts.keys, strict=True):
        stop = start + len(keys)
        local = rows[(rows >= start) & (rows < stop)] - start
        if len(local):
            frame = pq.read_table(path).take(pa.array(local, pa.int64())).to_pandas()
            frame["_row"] = local + start
            frames.append(frame)
        start = stop
    if not frames:
        return pd.DataFrame(columns=[*parts.spec.column_names, "_file", "_line", "_row"])
    return pd.concat(frames, ignore_index=True)


def resolve(parts: SourceParts) -> Resolution:
    """Decide duplicates, conflicts and superseded versions for one source."""
    spec = parts.spec
    rows = _read_rows(parts, _repeated_rows(parts)).sort_values("_row", kind="stable")
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


def write_accepted(parts: SourceParts, resolution: Resolution, path: Path) -> int:
    """Write the final accepted table part by part (memory set by a part), without dropped rows."""
    schema = accepted_schema(parts.spec)
    drop = np.union1d(resolution.duplicates, resolution.conflicts["_row"].to_numpy(dtype=np.int64))
    written = 0
    with pq.ParquetWriter(path, schema) as writer:
        start = 0
        for part_path in parts.paths:
            table = pq.read_table(part_path)
            n = table.num_rows
            rows = np.arange(start, start + n)
            superseded = resolution.superseded_on.reindex(rows).to_numpy(dtype="datetime64[ns]")
            keep = ~np.isin(rows, drop)
            arrays = {name: table.column(name) for name in parts.spec.column_names}
            arrays["_superseded_on"] = pa.chunked_array([pa.array(superseded, pa.timestamp("ns"))])
            arrays["_file"] = table.column("_file")
            arrays["_line"] = table.column("_line")
            out = pa.table(arrays, schema=schema).filter(pa.array(keep))
            writer.write_table(out)
            written += out.num_rows
            start += n
            part_path.unlink()
        if not parts.paths:
            writer.write_table(schema.empty_table())
    return written


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
