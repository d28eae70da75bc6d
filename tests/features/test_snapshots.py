"""Profile snapshots: the same profiles as the in-memory path, complete or absent, never half-replaced."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from features import partitions, partitions_in_memory, snapshots
from features.catalogue import CATALOGUE_VERSION, FEATURE_NAMES
from features.engines import LocalEngine
from features.ingest import ingest_region
from features.partitions import partition_accepted
from features.profile_columns import DAY_NS, ENTERPRISE, NAT
from features.profiles import SOURCES, SourceTables, profile_as_of
from features.snapshots import latest_snapshot, list_snapshots, snapshot_dir, write_snapshot
from features.synthetic import generate_region
from tests.utils.dask_cluster import two_worker_client

AS_OF = pd.Timestamp("2025-06-30")


@pytest.fixture(scope="module")
def ingest_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("region")
    files = generate_region(root / "demo", n_enterprises=300, seed=5)
    ingest_region(files.raw_dir, root / "ingest")
    return root / "ingest"


def _read(folder: Path, source: str) -> pd.DataFrame:
    with pa.OSFile(str(folder / f"{source}.arrows"), "rb") as sink:
        return pa.ipc.open_stream(sink).read_all().to_pandas()


def test_partitioning_on_disk_keeps_every_row_once(ingest_dir: Path, tmp_path: Path) -> None:
    folders = partition_accepted(ingest_dir, tmp_path, partitions=3, batch_rows=500)
    registries = [_read(folder, "registration") for folder in folders]
    owners = [set(r["uscc"]) for r in registries]
    assert sum(len(o) for o in owners) == len(set().union(*owners))  # no enterprise in two partitions
    for source in SOURCES:
        whole = pd.read_parquet(ingest_dir / "accepted" / f"{source}.parquet")
        registered = whole[whole["uscc"].isin(set().union(*owners))]
        parts = [_read(folder, source) for folder in folders]
        assert sum(len(p) for p in parts) == len(registered)
        for part, registry in zip(parts, registries, strict=True):
            # each row names its enterprise by position in its own partition's registry
            uscc = registry.set_index("_enterprise")["uscc"].groupby(level=0).first()
            assert part["_enterprise"].isin(uscc.index).all()


def test_snapshot_equals_the_in_memory_profiles(ingest_dir: Path, tmp_path: Path) -> None:
    snap = write_snapshot(ingest_dir, tmp_path, AS_OF, LocalEngine(partitions=3, workers=2), batch_rows=700)
    assert snap.path == snapshot_dir(tmp_path, AS_OF) and snap.catalogue_version == CATALOGUE_VERSION
    expected = profile_as_of(SourceTables.from_accepted(ingest_dir), AS_OF).sort_values("uscc", ignore_index=True)
    got = snap.read()
    assert list(got.columns) == ["uscc", "as_of", *FEATURE_NAMES] and snap.rows == len(expected)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    manifest = json.loads((snap.path / snapshots.MANIFEST).read_text())
    assert manifest["as_of"] == "2025-06-30" and manifest["features"] == list(FEATURE_NAMES)


def test_partitions_cut_in_memory_hold_the_rows_the_partition_folders_hold(ingest_dir: Path, tmp_path: Path) -> None:
    held = partitions_in_memory.partition_in_memory(ingest_dir, partitions=3, batch_rows=500)
    folders = partition_accepted(ingest_dir, tmp_path, partitions=3, batch_rows=500)
    for partition, folder in zip(held, folders, strict=True):
        arrays = partition.take()
        for source in SOURCES:
            on_disk = _read(folder, source)
            in_memory = arrays[source]
            assert len(in_memory[ENTERPRISE]) == len(on_disk)
            assert in_memory[ENTERPRISE].tolist() == on_disk[ENTERPRISE].tolist()  # same rows, same order
            for name in on_disk.columns.drop(ENTERPRISE):
                column = on_disk[name]
                if pd.api.types.is_datetime64_any_dtype(column):
                    expected = column.to_numpy(dtype="datetime64[ns]").view("int64")
                elif pd.api.types.is_float_dtype(column):
                    expected = column.to_numpy(dtype=np.float64)
                else:
                    expected = column.astype(object).where(column.notna(), "").astype(str).to_numpy()
                np.testing.assert_array_equal(in_memory[name], expected, err_msg=f"{source}.{name}")
        with pytest.raises(RuntimeError, match="already taken"):
            partition.take()


def test_a_build_over_the_memory_budget_shuffles_through_disk_to_the_same_snapshot(ingest_dir: Path,
                                                                                 tmp_path: Path) -> None:
    in_memory = write_snapshot(ingest_dir, tmp_path / "memory", AS_OF, LocalEngine(partitions=3, workers=2))
    on_disk = write_snapshot(ingest_dir, tmp_path / "disk", AS_OF, LocalEngine(partitions=3, workers=2),
                             memory_budget=0)
    assert sorted(p.name for p in in_memory.path.iterdir()) == sorted(p.name for p in on_disk.path.iterdir())
    pd.testing.assert_frame_equal(in_memory.read(), on_disk.read())


def test_the_registry_finds_codes_by_binary_search_as_the_index_does(ingest_dir: Path) -> None:
    registry = partitions.Registry.of(ingest_dir, 3)
    assert registry.keys is not None  # USCCs have one length: the binary search is used
    known = list(registry.codes[::7])
    asked = pa.array([*known, "91440300MA5NOTREG1", "000000000000000000", "ZZZZZZZZZZZZZZZZZZ"])
    expected = [*registry.lookup.get_indexer(pd.Index(known)), -1, -1, -1]
    assert registry.positions(asked).tolist() == expected
    assert registry.positions(pa.array([known[0], "short"])).tolist() == [expected[0], -1]  # the index's way
    assert registry.positions(pa.array([known[1], None])).tolist() == [expected[1], -1]


def test_grouping_orders_rows_by_partition_keeping_their_order_unknown_last(ingest_dir: Path) -> None:
    registry = partitions.Registry.of(ingest_dir, 3)
    rng = np.random.default_rng(5)
    known = list(registry.codes[rng.integers(0, len(registry.codes), 200)])
    uscc = pa.array([*known, "91440300MA5NOTREG1", None, *known[:40]])
    for column in (uscc, uscc.dictionary_encode()):  # as Parquet dictionary pages read, and as plain text
        local, order, bounds = partitions.grouping(column, registry, 3)
        found = registry.positions(uscc)
        part = np.where(found >= 0, registry.owner[np.maximum(found, 0)], 3)
        assert order.tolist() == np.argsort(part, kind="stable").tolist()
        assert bounds.tolist() == np.searchsorted(part[order], np.arange(4)).tolist()
        assert (local[found >= 0] == registry.local[found[found >= 0]]).all()


def test_a_partition_joins_day_numbers_and_nanoseconds_of_its_batches() -> None:
    order, bounds = np.array([1, 0]), np.array([0, 1, 2])
    whole = pa.table({"on": pa.array(np.array(["2020-01-02", "NaT"], dtype="datetime64[ns]"))})
    timed = pa.table({"on": pa.array(np.array(["2020-01-03T06:00", "2020-01-04"], dtype="datetime64[ns]"))})
    old = pa.table({"on": pa.array(np.array(["1850-03-01", "2020-01-05"], dtype="datetime64[ns]"))})
    tables = [whole, timed, old, whole]
    held = [partitions_in_memory._HeldBatch.of(t, order, bounds) for t in tables]
    assert [partitions_in_memory._date_form(b, "on") for b in held] == ["short", "as read", "days", "short"]
    assert held[0].arrays["on"].dtype == np.uint16 and held[2].arrays["on"].dtype == np.int32
    for batches, read in ((held, tables), (held[::3], tables[::3]), (held[2:], tables[2:])):
        for k in (0, 1):
            rows = partitions_in_memory._gathered(batches, "on", k)
            expected = [t.column("on").to_numpy().view(np.int64)[order[k]] for t in read]
            assert rows.dtype == np.int64 and rows.tolist() == expected
    assert partitions_in_memory._gathered(held[::3], "on", 0).tolist() == [NAT, NAT]
    edges = np.array(["1900-01-01", "2079-06-05", "NaT"], dtype="datetime64[D]").astype("datetime64[ns]")
    edge = partitions_in_memory._HeldBatch.of(pa.table({"on": pa.array(edges)}), np.arange(3), np.array([0, 3]))
    assert partitions_in_memory._date_form(edge, "on") == "short"
    assert partitions_in_memory._gathered([edge], "on", 0).tolist() == [*edges[:2].view(np.int64).tolist(), NAT]
    late = pa.table({"on": pa.array(np.array(["2079-06-06"], dtype="datetime64[ns]"))})
    assert partitions_in_memory._date_form(partitions_in_memory._HeldBatch.of(late, np.arange(1), np.array([0, 1])),
                                           "on") == "days"


def test_numbers_are_held_as_hundredths_or_single_precision_only_when_every_one_comes_back() -> None:
    order, bounds = np.array([1, 0]), np.array([0, 1, 2])
    counts = pa.table({"n": pa.array([46.0, None])})
    amounts = pa.table({"n": pa.array([-0.0, 3655.12])})  # -0.0 is not a number of hundredths given back
    fen = pa.table({"n": pa.array([1626.5, -3655.12])})
    noisy = pa.table({"n": pa.array([1626.4899999999998, 7.0])})
    tables = [counts, amounts, fen, counts, noisy, fen]
    held = [partitions_in_memory._HeldBatch.of(t, order, bounds) for t in tables]
    assert [b.arrays["n"].dtype for b in held] == [np.float32, np.float64, np.int32, np.float32, np.float64, np.int32]
    for batches, read in ((held, tables), (held[::3], tables[::3]), (held[2::3], tables[2::3])):  # mixed, one form
        for k in (0, 1):
            rows = partitions_in_memory._gathered(batches, "n", k)
            expected = np.array([t.column("n").to_numpy(zero_copy_only=False)[order[k]] for t in read], np.float64)
            assert rows.dtype == np.float64
            assert np.array_equal(rows, expected, equal_nan=True)
            assert np.array_equal(np.signbit(rows), np.signbit(expected))


def test_dates_are_held_as_day_numbers_only_when_no_time_of_day_is_lost() -> None:
    days = pa.array(np.array(["2020-01-01", "NaT", "1960-05-03"], dtype="datetime64[ns]"))
    held = partitions_in_memory.day_numbers(days)
    assert held is not None and held.dtype == np.int32
    assert (np.where(held == partitions_in_memory.NO_DAY, NAT, held.astype(np.int64) * DAY_NS).tolist()
            == [d.value if d is not pd.NaT else NAT for d in pd.to_datetime(days.to_pylist())])
    assert partitions_in_memory.day_numbers(pa.array(np.array(["2020-01-01T08:30"], dtype="datetime64[ns]"))) is None
    assert partitions_in_memory.day_numbers(pa.array([pd.Timestamp("2020-01-01", tz="Asia/Shanghai")])) is None


def test_a_failed_build_leaves_the_previous_snapshot(ingest_dir: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    first = write_snapshot(ingest_dir, tmp_path, AS_OF, LocalEngine(partitions=2))
    before = first.read()

    def broken(*args: object) -> pd.DataFrame:
        raise RuntimeError("disk full")

    monkeypatch.setattr(snapshots, "profile_partition", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_snapshot(ingest_dir, tmp_path, AS_OF, LocalEngine(partitions=2))
    assert [s.path for s in list_snapshots(tmp_path)] == [first.path]
    pd.testing.assert_frame_equal(latest_snapshot(tmp_path).read(), before)  # type: ignore[union-attr]
    assert [p.name for p in first.path.parent.iterdir()] == [first.path.name]  # no staging left behind


def test_latest_is_the_newest_complete_snapshot(ingest_dir: Path, tmp_path: Path) -> None:
    write_snapshot(ingest_dir, tmp_path, AS_OF, LocalEngine(partitions=2))
    newer = write_snapshot(ingest_dir, tmp_path, pd.Timestamp("2025-09-30"), LocalEngine(partitions=2))
    incomplete = snapshot_dir(tmp_path, pd.Timestamp("2025-12-31"))
    incomplete.mkdir()
    (incomplete / "part-00000.parquet").write_bytes(b"")  # parts without a manifest: not a snapshot
    assert latest_snapshot(tmp_path) == newer
    assert [s.as_of for s in list_snapshots(tmp_path)] == [AS_OF, pd.Timestamp("2025-09-30")]


@pytest.mark.slow
def test_a_snapshot_built_on_a_dask_cluster_is_the_same(ingest_dir: Path, tmp_path: Path) -> None:
    from features.engines import DaskEngine

    local = write_snapshot(ingest_dir, tmp_path / "local", AS_OF, LocalEngine(partitions=3))
    with two_worker_client() as client:
        dask = write_snapshot(ingest_dir, tmp_path / "dask", AS_OF, DaskEngine(client, partitions=3))
    assert dask.rows == local.rows
    pd.testing.assert_frame_equal(dask.read(), local.read())
