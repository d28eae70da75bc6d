"""One code path, two engines: the same per-partition pandas function in this process, in a process pool, or
on a Dask cluster.

Enterprises are split into partitions by a stable hash of their USCC; every profile feature reads only one
enterprise's own records, so a partition's profiles do not depend on any other partition. ``LocalEngine`` runs
partitions in turn (``workers=1``) or in a pool of worker processes, each holding one partition at a time, so
memory is bounded by ``workers`` partitions, or (``map_in_threads``) in threads over partitions already held in
this process's memory (a snapshot cut in memory: ``features.snapshots``); ``DaskEngine`` sends the same
function to a Dask scheduler. Both return the same frame, sorted by (as_of, uscc).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.profiles import SourceTables, build_profiles, profiles_for_pairs

Item = TypeVar("Item")
Result = TypeVar("Result")


def partition_of(uscc: pd.Series | npt.NDArray[Any], partitions: int) -> npt.NDArray[np.int64]:
    """The partition of each USCC: a hash that is the same in every process and on every machine."""
    values = np.asarray(uscc, dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) != "string":  # not all text already: as text first
        values = values.astype(str).astype(object)
    hashed = pd.util.hash_array(values, categorize=False)
    return (hashed % np.uint64(partitions)).astype(np.int64)


def split_tables(tables: SourceTables, partitions: int) -> list[SourceTables]:
    """Cut every source into ``partitions`` pieces by USCC, so each piece holds whole enterprises."""
    pieces: list[dict[str, pd.DataFrame]] = [{} for _ in range(partitions)]
    for name, frame in tables.frames().items():
        part = partition_of(frame["uscc"], partitions)
        for k, piece in enumerate(pieces):
            piece[name] = frame[part == k]
    return [SourceTables(**piece) for piece in pieces]


def profiles_for_partition(tables: SourceTables, as_of_dates: Sequence[pd.Timestamp]) -> pd.DataFrame:
    """The per-partition function every engine runs: profiles of this partition's open enterprises."""
    return build_profiles(tables, as_of_dates)


def ordered(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Partition results stacked and sorted by (as_of, uscc), the order every engine returns."""
    kept = [f for f in frames if len(f)]
    if not kept:
        return pd.DataFrame()
    return pd.concat(kept, ignore_index=True).sort_values(["as_of", "uscc"], ignore_index=True)


class ProfileEngine(Protocol):
    """Runs a function over partitions somewhere and gathers the results in input order."""

    @property
    def partitions(self) -> int: ...

    def map(self, function: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]: ...


def build(engine: ProfileEngine, tables: SourceTables, as_of_dates: Sequence[pd.Timestamp]) -> pd.DataFrame:
    """Profiles of every open enterprise at each date, computed partition by partition on ``engine``."""
    dates = [pd.Timestamp(d) for d in as_of_dates]
    pieces = split_tables(tables, engine.partitions)
    return ordered(engine.map(_Dates(dates), pieces))


def build_pairs(engine: ProfileEngine, tables: SourceTables, pairs: pd.DataFrame) -> pd.DataFrame:
    """Profiles for (uscc, as_of) pairs, each partition receiving the pairs of its own enterprises."""
    pieces = split_tables(tables, engine.partitions)
    owner = partition_of(pairs["uscc"], engine.partitions)
    work = [(piece, pairs[owner == k]) for k, piece in enumerate(pieces)]
    return ordered(engine.map(_pairs_task, work))


@dataclass(frozen=True)
class _Dates:
    """A picklable ``profiles_for_partition`` bound to its dates (process pools and Dask ship it)."""

    dates: list[pd.Timestamp]

    def __call__(self, tables: SourceTables) -> pd.DataFrame:
        return profiles_for_partition(tables, self.dates)


def _pairs_task(work: tuple[SourceTables, pd.DataFrame]) -> pd.DataFrame:
    return profiles_for_pairs(*work)


@dataclass(frozen=True)
class LocalEngine:
    """Partitions in this process (``workers=1``) or in a pool of ``workers`` processes."""

    partitions: int = 8
    workers: int = 1

    def map(self, function: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
        if self.workers <= 1 or len(items) <= 1:
            return [function(item) for item in items]
        with ProcessPoolExecutor(max_workers=min(self.workers, len(items))) as pool:
            return list(pool.map(function, items))

    def map_in_threads(self, function: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
        """As :meth:`map`, in ``workers`` threads of this process: for items that live in its memory (partitions
        cut in memory), which a process would receive only as a copy. NumPy and Arrow release the GIL for the
        bulk of the per-partition work."""
        if self.workers <= 1 or len(items) <= 1:
            return [function(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(items))) as pool:
            return list(pool.map(function, items))

    def build(self, tables: SourceTables, as_of_dates: Sequence[pd.Timestamp]) -> pd.DataFrame:
        """Profiles of every open enterprise at each date (see :func:`build`)."""
        return build(self, tables, as_of_dates)


@dataclass(frozen=True)
class DaskEngine:
    """Partitions as tasks on a Dask cluster; ``scheduler`` is an address or a ``distributed.Client``."""

    scheduler: Any
    partitions: int = 8

    def map(self, function: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
        from distributed import Client

        client = self.scheduler if isinstance(self.scheduler, Client) else Client(self.scheduler)
        try:
            futures = [client.submit(function, item, pure=False) for item in items]
            return list(client.gather(futures))
        finally:
            if client is not self.scheduler:
                client.close()

    def build(self, tables: SourceTables, as_of_dates: Sequence[pd.Timestamp]) -> pd.DataFrame:
        """Profiles of every open enterprise at each date (see :func:`build`)."""
        return build(self, tables, as_of_dates)


def engine_for(scheduler_address: str | None, partitions: int, workers: int = 1) -> LocalEngine | DaskEngine:
    """The engine the settings ask for: Dask when a scheduler address is set, local otherwise."""
    if scheduler_address:
        return DaskEngine(scheduler_address, partitions)
    return LocalEngine(partitions, workers)
