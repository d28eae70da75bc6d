"""One code path, two engines: the same per-partition pandas function on one machine or on a Dask cluster.

Enterprises are split into partitions by a stable hash of their USCC; every profile feature reads only one
enterprise's own records, so a partition's profiles do not depend on any other partition. ``LocalEngine``
runs the partitions in turn (memory bounded by one partition); ``DaskEngine`` sends them to a Dask scheduler.
Both return the same frame, sorted by (as_of, uscc).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol

import numpy as np
import pandas as pd

from features.profiles import SourceTables, build_profiles


def partition_of(uscc: pd.Series, partitions: int) -> np.ndarray:
    """The partition of each USCC: a hash that is the same in every process and on every machine."""
    hashed = pd.util.hash_pandas_object(uscc.astype(str), index=False).to_numpy()
    return (hashed % np.uint64(partitions)).astype(np.int64)


def split_tables(tables: SourceTables, partitions: int) -> list[SourceTables]:
    """Cut every source into ``partitions`` pieces by USCC, so each piece holds whole enterprises."""
    pieces: list[dict[str, pd.DataFrame]] = [{} for _ in range(partitions)]
    for f in fields(tables):
        frame: pd.DataFrame = getattr(tables, f.name)
        part = partition_of(frame["uscc"], partitions)
        for k, piece in enumerate(pieces):
            piece[f.name] = frame[part == k]
    return [SourceTables(**piece) for piece in pieces]


def profiles_for_partition(tables: SourceTables, as_of_dates: Sequence[pd.Timestamp]) -> pd.DataFrame:
    """The per-partition function both engines run: profiles of this partition's enterprises."""
    return build_profiles(tables, as_of_dates)


def _ordered(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True).sort_values(["as_of", "uscc"], ignore_index=True)


class ProfileEngine(Protocol):
    """Runs :func:`profiles_for_partition` over partitions and gathers the result."""

    def build(self, tables: SourceTables, as_of_dates: Sequence[pd.Timestamp]) -> pd.DataFrame: ...


@dataclass(frozen=True)
class LocalEngine:
    """Partitions one after another in this process."""

    partitions: int = 8

    def build(self, tables: SourceTables, as_of_dates: Sequence[pd.Timestamp]) -> pd.DataFrame:
        return _ordered([profiles_for_partition(p, as_of_dates) for p in split_tables(tables, self.partitions)])


@dataclass(frozen=True)
class DaskEngine:
    """Partitions as tasks on a Dask cluster; ``scheduler`` is an address or a ``distributed.Client``."""

    scheduler: Any
    partitions: int = 8

    def build(self, tables: SourceTables, as_of_dates: Sequence[pd.Timestamp]) -> pd.DataFrame:
        from distributed import Client

        client = self.scheduler if isinstance(self.scheduler, Client) else Client(self.scheduler)
        try:
            dates = list(as_of_dates)
            futures = [client.submit(profiles_for_partition, piece, dates, pure=False)
                       for piece in split_tables(tables, self.partitions)]
            return _ordered(client.gather(futures))
        finally:
            if client is not self.scheduler:
                client.close()


def engine_for(scheduler_address: str | None, partitions: int) -> ProfileEngine:
    """The engine the settings ask for: Dask when a scheduler address is set, local otherwise."""
    if scheduler_address:
        return DaskEngine(scheduler_address, partitions)
    return LocalEngine(partitions)
