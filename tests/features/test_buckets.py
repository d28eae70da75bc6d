"""Accepted tables bucketed at rest: every row group holds one bucket, and partitions read from them build the
same snapshot as the shuffle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.buckets import BucketedTable, buckets_of, write_bucketed
from features.engines import LocalEngine, partition_of
from features.ingest import ingest_region
from features.profiles import SOURCES
from features.snapshots import read_buckets, write_snapshot
from features.synthetic import generate_region
from tests.utils.dask_cluster import two_worker_client

AS_OF = pd.Timestamp("2025-06-30")
BUCKETS = 6


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same region ingested twice: in one bucket (as before bucketing) and in six."""
    root = tmp_path_factory.mktemp("region")
    files = generate_region(root / "demo", n_enterprises=300, seed=5)
    ingest_region(files.raw_dir, root / "one", chunk_rows=2_000)
    ingest_region(files.raw_dir, root / "six", chunk_rows=2_000, buckets=BUCKETS)
    return root / "one", root / "six"


def _rows(path: Path) -> pd.DataFrame:
    frame = pq.read_table(path).to_pandas()
    return frame.sort_values(list(frame.columns), ignore_index=True)


def test_every_row_group_holds_the_rows_of_the_bucket_it_declares(region: tuple[Path, Path]) -> None:
    one, six = region
    for source in SOURCES:
        path = six / "accepted" / f"{source}.parquet"
        layout = BucketedTable.of(path)
        assert layout is not None and layout.count == BUCKETS, source
        for file, row_groups in layout.parts:
            reader = pq.ParquetFile(file)
            assert reader.metadata.num_row_groups == len(row_groups)
            for index, bucket in enumerate(row_groups):
                uscc = reader.read_row_group(index, columns=["uscc"]).column("uscc").to_numpy(zero_copy_only=False)
                assert (partition_of(uscc, BUCKETS) == bucket).all(), (source, file.name, index)
        # the same rows as the unbucketed ingest, corrections (rewritten parts) included
        pd.testing.assert_frame_equal(_rows(path), _rows(one / "accepted" / f"{source}.parquet"))


def test_a_partition_reads_exactly_its_enterprises_rows(region: tuple[Path, Path]) -> None:
    _, six = region
    path = six / "accepted" / "tax_monthly.parquet"
    layout = BucketedTable.of(path)
    assert layout is not None
    whole = pq.read_table(path, columns=["uscc", "period"]).to_pandas()
    for partition in range(3):
        read = layout.read(range(partition, BUCKETS, 3), ["uscc", "period"])
        assert read is not None
        mine = whole[partition_of(whole["uscc"].to_numpy(), 3) == partition]
        assert sorted(zip(read.column("uscc").to_pylist(), read.column("period").to_pylist(), strict=True)) == \
            sorted(zip(mine["uscc"], mine["period"], strict=True))


@pytest.mark.parametrize("partitions", [1, 2, 3, 6])
def test_partitions_read_from_buckets_build_the_shuffles_snapshot(region: tuple[Path, Path], tmp_path: Path,
                                                                  partitions: int) -> None:
    one, six = region
    assert read_buckets(six, partitions) is not None  # divides six: read straight from the row groups
    direct = write_snapshot(six, tmp_path / "direct", AS_OF, LocalEngine(partitions=partitions, workers=2))
    shuffled = write_snapshot(one, tmp_path / "shuffled", AS_OF, LocalEngine(partitions=3, workers=1))
    assert direct.rows == shuffled.rows
    pd.testing.assert_frame_equal(direct.read(), shuffled.read())


def test_a_partition_count_that_does_not_divide_the_buckets_shuffles(region: tuple[Path, Path],
                                                                    tmp_path: Path) -> None:
    one, six = region
    assert read_buckets(six, 4) is None and read_buckets(one, 3) is None
    assert read_buckets(one, 1) is not None  # one bucket: one partition reads everything as it lies
    built = write_snapshot(six, tmp_path / "four", AS_OF, LocalEngine(partitions=4))
    reference = write_snapshot(one, tmp_path / "one", AS_OF, LocalEngine(partitions=1))
    pd.testing.assert_frame_equal(built.read(), reference.read())


def test_tables_written_before_bucketing_are_shuffled(tmp_path: Path) -> None:
    folder = tmp_path / "accepted" / "tax_monthly.parquet"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"uscc": ["91410100MA00000000"]}), folder / "part-00000.parquet")
    assert BucketedTable.of(folder) is None


def test_rows_are_grouped_stably_and_missing_codes_go_to_bucket_zero(tmp_path: Path) -> None:
    codes = [f"9141010{k:02d}MA0000000"[:18] for k in range(40)]
    table = pa.table({"uscc": [*codes, None], "n": list(range(41))})
    path = tmp_path / "part.parquet"
    write_bucketed(table, path, 4)
    layout = BucketedTable.of(path)
    assert layout is not None and layout.count == 4
    expected = np.append(partition_of(np.array(codes, dtype=object), 4), 0)
    assert (buckets_of(table.column("uscc"), 4) == expected).all()
    read = pq.read_table(path).to_pandas()
    assert sorted(read["n"]) == list(range(41))
    order = np.argsort(expected, kind="stable")
    assert read["n"].tolist() == order.tolist()  # grouped by bucket, the original order within each
    empty = tmp_path / "empty.parquet"
    write_bucketed(table.slice(0, 0), empty, 4)
    assert pq.ParquetFile(empty).metadata.num_row_groups == 0 and BucketedTable.of(empty) == BucketedTable(
        4, ((empty, ()),))


def test_bucket_counts_below_one_are_refused(region: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="buckets: must be at least 1"):
        write_bucketed(pa.table({"uscc": ["x"]}), tmp_path / "x.parquet", 0)
    with pytest.raises(ValueError, match="buckets: must be at least 1"):
        ingest_region(tmp_path / "raw", tmp_path / "ingest", buckets=0)


@pytest.mark.slow
def test_dask_workers_read_their_buckets_to_the_same_snapshot(region: tuple[Path, Path], tmp_path: Path) -> None:
    from features.engines import DaskEngine

    one, six = region
    local = write_snapshot(one, tmp_path / "local", AS_OF, LocalEngine(partitions=3))
    with two_worker_client() as client:
        dask = write_snapshot(six, tmp_path / "dask", AS_OF, DaskEngine(client, partitions=3))
    assert dask.rows == local.rows
    pd.testing.assert_frame_equal(dask.read(), local.read())
