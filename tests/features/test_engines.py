"""One code path, two engines: partitioned local and Dask runs give exactly the whole-table profiles."""

from __future__ import annotations

import pandas as pd
import pytest

from features.engines import DaskEngine, LocalEngine, build_pairs, engine_for, partition_of, split_tables
from features.ingest import ingest_region
from features.profiles import SourceTables, build_profiles, profiles_for_pairs
from features.synthetic import generate_region
from tests.utils.dask_cluster import two_worker_client

DATES = [pd.Timestamp("2024-06-30"), pd.Timestamp("2025-06-30")]


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> SourceTables:
    root = tmp_path_factory.mktemp("region")
    files = generate_region(root / "demo", n_enterprises=400, seed=8)
    ingest_region(files.raw_dir, root / "ingest")
    return SourceTables.from_accepted(root / "ingest")


@pytest.fixture(scope="module")
def whole(tables: SourceTables) -> pd.DataFrame:
    return build_profiles(tables, DATES).sort_values(["as_of", "uscc"], ignore_index=True)


def test_partitions_hold_whole_enterprises_and_lose_no_row(tables: SourceTables) -> None:
    pieces = split_tables(tables, 5)
    assert sum(len(p.tax_monthly) for p in pieces) == len(tables.tax_monthly)
    assert sum(len(p.list_entries) for p in pieces) == len(tables.list_entries)
    owners = [set().union(*(set(getattr(p, name)["uscc"]) for name in tables.__dataclass_fields__))
              for p in pieces]
    assert sum(len(o) for o in owners) == len(set().union(*owners))  # no enterprise in two partitions


def test_partition_of_is_stable() -> None:
    codes = pd.Series(["91410102MA0000000X", "914101020000000001"])
    assert partition_of(codes, 7).tolist() == partition_of(codes.copy(), 7).tolist()


def test_local_engine_equals_the_whole_table(tables: SourceTables, whole: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(LocalEngine(partitions=3).build(tables, DATES), whole)


def test_a_process_pool_gives_the_same_profiles(tables: SourceTables, whole: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(LocalEngine(partitions=4, workers=2).build(tables, DATES), whole)


def test_pairs_on_partitions_equal_pairs_on_the_whole_table(tables: SourceTables, whole: pd.DataFrame) -> None:
    sample = whole.sample(150, random_state=3)[["uscc", "as_of"]]
    pairs = pd.concat([sample, pd.DataFrame({"uscc": ["91440300MA5NOTREG1"], "as_of": [DATES[0]]})])
    got = build_pairs(LocalEngine(partitions=5, workers=2), tables, pairs)
    assert len(got) == 150  # the unregistered code gives no row
    pd.testing.assert_frame_equal(got, profiles_for_pairs(tables, pairs))
    expected = whole.merge(sample, on=["uscc", "as_of"]).sort_values(["as_of", "uscc"], ignore_index=True)
    pd.testing.assert_frame_equal(got, expected)


@pytest.mark.slow
def test_dask_engine_on_a_local_cluster_equals_the_whole_table(tables: SourceTables, whole: pd.DataFrame) -> None:
    with two_worker_client() as client:
        got = DaskEngine(client, partitions=4).build(tables, DATES)
        pairs = whole.sample(100, random_state=1)[["uscc", "as_of"]]
        got_pairs = build_pairs(DaskEngine(client, partitions=3), tables, pairs)
    pd.testing.assert_frame_equal(got, whole)
    pd.testing.assert_frame_equal(got_pairs, build_pairs(LocalEngine(partitions=1), tables, pairs))


def test_engine_for_follows_the_settings() -> None:
    assert engine_for(None, 4, workers=3) == LocalEngine(4, 3)
    dask = engine_for("tcp://127.0.0.1:8786", 4)
    assert isinstance(dask, DaskEngine) and dask.scheduler == "tcp://127.0.0.1:8786"


def test_threads_of_a_local_engine_return_results_in_input_order(tables: SourceTables) -> None:
    pieces = split_tables(tables, 4)
    counted = LocalEngine(partitions=4, workers=2).map_in_threads(lambda p: len(p.tax_monthly), pieces)
    assert counted == [len(p.tax_monthly) for p in pieces] and sum(counted) == len(tables.tax_monthly)
