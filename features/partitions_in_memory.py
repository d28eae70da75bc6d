"""Partitions cut in this process's memory: the one-machine shuffle of a snapshot build (``features.snapshots``).

Two threads read the row groups of every source; each batch is converted once to the encoder's arrays (dates
as 16- or 32-bit day numbers when whole days, numbers float64 with NaN or float32 when exact, text as codes into
its strings) and grouped by partition, and a partition's arrays are gathered, and widened, only when a job
profiles it. The same rows in the same order as the partition folders of
``features.partitions.partition_accepted`` hold. Held small because on a VM every fresh page costs system time
(about 3 s per GiB when the host has taken the memory back).
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from features.partitions import (
    BATCH_ROWS,
    Registry,
    accepted_path,
    grouping,
    needed_columns,
    parquet_format,
    source_columns,
)
from features.profile_columns import DAY_NS, ENTERPRISE, NAT, arrow_floats, arrow_ints, text
from features.profiles import CATALOGUE, FeatureSet


@dataclass(frozen=True)
class _HeldBatch:
    """One batch as read, its rows grouped by partition and each column converted once to what the encoder
    reads (``Encoded.of_arrow``), held small: dates as day numbers (int64 ns only when some has a time of day),
    numbers float64 with NaN (float32 when every one is exactly a float32), ``_enterprise`` and text codes (into
    a table of its strings) in the narrowest unsigned type that holds them. Partition ``k`` holds rows
    ``bounds[k]`` to ``bounds[k + 1]``."""

    arrays: dict[str, np.ndarray]
    strings: dict[str, np.ndarray]
    bounds: np.ndarray
    days: frozenset[str] = frozenset()
    """Date columns held as int32 day numbers (half the memory of int64 nanoseconds): every date a whole day."""
    short_days: frozenset[str] = frozenset()
    """Date columns held as uint16 days from ``SHORT_DAYS_FROM`` (0 for none): whole days in 1900 … 2079."""
    hundredths: frozenset[str] = frozenset()
    """Number columns held as int32 hundredths (amounts in yuan and fen): each value is its hundredths / 100."""

    @classmethod
    def of(cls, table: pa.Table, order: np.ndarray, bounds: np.ndarray) -> _HeldBatch:
        arrays, strings, days, short_days, hundredths = {}, {}, set(), set(), set()
        for name in table.column_names:
            chunks = table.column(name).chunks
            column = chunks[0] if len(chunks) == 1 else pa.concat_arrays(chunks)  # one chunk: no copy
            kind = column.type
            if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
                values = day_numbers(column)
                if values is None:
                    values = arrow_ints(column.cast(pa.timestamp("ns")).cast(pa.int64()), fill=NAT)
                elif (short := _short_days(values)) is not None:
                    values = short
                    short_days.add(name)
                else:
                    days.add(name)
            elif pa.types.is_floating(kind):
                values = arrow_floats(column)
                if (cents := _hundredths_if_exact(values)) is not None:
                    values = cents
                    hundredths.add(name)
                else:
                    values = _single_if_exact(values)
            elif pa.types.is_dictionary(kind):
                names = [str(n) for n in column.dictionary.to_pylist()]
                strings[name] = np.array([*names, ""])
                values = arrow_ints(column.indices, fill=len(names)).astype(_narrowest(len(names)))
            elif name == ENTERPRISE:
                values = column.to_numpy()
                values = values.astype(_narrowest(int(values.max()) if len(values) else 0))
            else:
                values = text(pd.Series(column.to_numpy(zero_copy_only=False)))
            arrays[name] = np.take(values, order)  # grouped by partition here, where the batch is in cache
        return cls(arrays, strings, bounds, frozenset(days), frozenset(short_days), frozenset(hundredths))

    def rows(self, name: str, partition: int) -> np.ndarray:
        """Column ``name`` of the partition's rows as held (dates as day numbers when in ``days``, text as
        codes into ``strings``)."""
        values = self.arrays[name][self.bounds[partition]:self.bounds[partition + 1]]
        return self.strings[name][values] if name in self.strings else values


def _gathered(held: list[_HeldBatch], name: str, partition: int) -> np.ndarray:
    """Column ``name`` of a partition's rows across the batches that hold them, as the encoder reads it: day
    numbers widened to int64 ns once, after the batches' pieces are joined."""
    held_as = {_date_form(b, name) for b in held}
    if len(held_as) > 1:  # dates held in different forms by different batches: each piece widened on its own
        return np.concatenate([_widened(b.rows(name, partition), _date_form(b, name)) for b in held])
    joined = np.concatenate([b.rows(name, partition) for b in held])  # float32 and float64 pieces: float64
    if joined.dtype == np.float32:  # numbers every batch held in single precision, widened exactly
        return joined.astype(np.float64)
    return _widened(joined, held_as.pop())


def _date_form(batch: _HeldBatch, name: str) -> str:
    if name in batch.hundredths:
        return "hundredths"
    return "short" if name in batch.short_days else "days" if name in batch.days else "as read"


def _widened(values: np.ndarray, form: str) -> np.ndarray:
    """Held dates as int64 ns (``NAT`` for none); other columns as they are."""
    if form == "days":
        return _nanoseconds(values)
    if form == "hundredths":
        return _from_hundredths(values)
    if form != "short":
        return values
    ns = values.astype(np.int64)
    ns += SHORT_DAYS_FROM - 1
    ns *= DAY_NS
    missing = values == 0
    if missing.any():
        ns[missing] = NAT
    return ns


def _short_days(days: np.ndarray) -> np.ndarray | None:
    """Day numbers (``NO_DAY`` for none) as uint16 days from ``SHORT_DAYS_FROM`` plus one (0 for none), or None
    when some date is outside the 65,535 days that hold: a quarter of the memory of nanoseconds."""
    missing = days == NO_DAY
    known = days if not missing.any() else days[~missing]
    if known.size and (int(known.min()) < SHORT_DAYS_FROM or int(known.max()) >= SHORT_DAYS_FROM + 2**16 - 1):
        return None
    short = (days - (SHORT_DAYS_FROM - 1)).astype(np.uint16)
    short[missing] = 0
    return short


def _from_hundredths(cents: np.ndarray) -> np.ndarray:
    """int32 hundredths as the float64 values they were checked to give back (:func:`_hundredths_if_exact`)."""
    values = cents.astype(np.float64)
    values /= 100.0
    return values


def _hundredths_if_exact(values: np.ndarray) -> np.ndarray | None:
    """Numbers as int32 hundredths when :func:`_from_hundredths` gives every one back bit for bit (amounts to the
    fen below 21 million yuan; no NaN, infinity or -0.0): half the memory. None otherwise; a 64-value check
    rejects most other columns before a pass over the batch."""
    if not values.size or _cents(values[:64]) is None:
        return None
    return _cents(values)


def _cents(values: np.ndarray) -> np.ndarray | None:
    scaled = values * 100.0
    np.rint(scaled, out=scaled)
    largest = np.max(np.abs(scaled))  # NaN when some value is NaN: refused with it
    if not largest < 2**31 - 1:
        return None
    cents = scaled.astype(np.int32)
    if not np.array_equal(_from_hundredths(cents).view(np.int64), values.view(np.int64)):
        return None
    return cents


def _single_if_exact(values: np.ndarray) -> np.ndarray:
    """Numbers as float32 when every one of them is one exactly (counts, days, whole amounts below 2**24), so
    the held copy takes half the memory and widens back to the same float64; otherwise as they are."""
    head = values[:64]  # most columns of amounts fail here, before a pass over the batch
    if not values.size or not np.array_equal(head.astype(np.float32), head, equal_nan=True):
        return values
    single = values.astype(np.float32)
    return single if np.array_equal(single, values, equal_nan=True) else values


def _nanoseconds(days: np.ndarray) -> np.ndarray:
    """Day numbers (``NO_DAY`` for none) as int64 ns (``NAT``)."""
    ns = days.astype(np.int64)
    ns *= DAY_NS
    missing = days == NO_DAY
    if missing.any():
        ns[missing] = NAT
    return ns


NO_DAY = np.iinfo(np.int32).min
SHORT_DAYS_FROM = -25_567
"""1900-01-01 as a day number: dates from it to 2079-06-05 are held in 16 bits."""


def _narrowest(largest: int) -> type[np.unsignedinteger] | type[np.int64]:
    """The narrowest unsigned integer type that holds 0 … ``largest``."""
    for kind in (np.uint8, np.uint16, np.uint32):
        if largest <= np.iinfo(kind).max:
            return kind
    return np.int64


def day_numbers(column: pa.Array) -> np.ndarray | None:
    """A date column as int32 days since 1970 (``NO_DAY`` where missing), or None when some value has a time
    of day (or a time zone) that day numbers would lose."""
    if pa.types.is_timestamp(column.type) and column.type.tz is not None:
        return None
    days = column.cast(pa.date32(), safe=False)
    if pc.all(pc.equal(days.cast(column.type), column)).as_py() is False:  # some time of day would be lost
        return None
    days = days.cast(pa.int32())
    return (pc.fill_null(days, NO_DAY) if days.null_count else days).to_numpy()


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
        return {source: {name: _gathered(held, name, self.index) for name in held[0].arrays}
                for source, held in batches.items()}


def partition_in_memory(ingest_dir: Path, partitions: int, batch_rows: int = BATCH_ROWS,
                        feature_set: FeatureSet = CATALOGUE) -> list[HeldPartition]:
    """As :func:`partition_accepted`, kept in memory instead of written: the one-machine shuffle. Two threads
    read the row groups of every source; each batch is converted once and grouped by partition, and a
    partition's arrays are gathered when it is profiled. The same rows in the same order as the partition
    folders hold."""
    registry = Registry.of(ingest_dir, partitions)
    tasks = []
    for source in feature_set.columns:
        path = accepted_path(ingest_dir, source)
        columns, schema = source_columns(path, source, needed_columns(source, feature_set))
        groups = [group for part in ds.dataset(path, format=parquet_format(path)).get_fragments()
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
            local, order, bounds = grouping(batch.column("uscc"), registry, partitions)
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


_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3  # glibc's mallopt parameters
_GLIBC_DEFAULTS = {_M_TRIM_THRESHOLD: 128 * 2**10, _M_TOP_PAD: 128 * 2**10, _M_MMAP_THRESHOLD: 128 * 2**10}
_ARROW_DECAY_MS = 1000  # Arrow's jemalloc default: unused pages go back to the system after a second


@contextlib.contextmanager
def memory_reused() -> Iterator[None]:
    """While a cut in memory is built and profiled, freed memory stays in this process for the next partition
    instead of going back to the system: fresh pages cost a page fault each (on a VM, as much system time as
    the work itself). glibc keeps freed blocks up to 32 MiB on its heaps and its heaps untrimmed, Arrow's
    jemalloc keeps its dirty pages; the defaults come back afterwards and the memory is released. A no-op
    where the C library is not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        libc = None
    jemalloc = pa.default_memory_pool().backend_name == "jemalloc"
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, 32 * 2**20)
        libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
        libc.mallopt(_M_TOP_PAD, 256 * 2**20)
    if jemalloc:
        pa.jemalloc_set_decay_ms(-1)
    try:
        yield
    finally:
        if jemalloc:
            pa.jemalloc_set_decay_ms(_ARROW_DECAY_MS)
        pa.default_memory_pool().release_unused()
        if libc is not None:
            for parameter, value in _GLIBC_DEFAULTS.items():
                libc.mallopt(parameter, value)
            libc.malloc_trim(0)


def in_memory_bytes(ingest_dir: Path, feature_set: FeatureSet = CATALOGUE) -> int:
    """About how much memory :func:`partition_in_memory` holds: rows times the width of the columns kept (dates
    as day numbers), from the Parquet footers."""
    total = 0
    for source in feature_set.columns:
        path = accepted_path(ingest_dir, source)
        rows = sum(f.metadata.num_rows for f in ds.dataset(path, format="parquet").get_fragments())
        _, schema = source_columns(path, source, needed_columns(source, feature_set))
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
