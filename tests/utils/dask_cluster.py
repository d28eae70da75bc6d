"""The Dask cluster the engine tests run on: two worker processes of one thread each, as two machines would be."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def two_worker_cluster() -> Iterator[Any]:
    """A ``distributed.LocalCluster`` of two single-threaded worker processes, closed afterwards."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster


@contextmanager
def two_worker_client() -> Iterator[Any]:
    """A ``distributed.Client`` of :func:`two_worker_cluster`."""
    from distributed import Client

    with two_worker_cluster() as cluster, Client(cluster) as client:
        yield client
