"""The bench's shared subset equals the catalogue's features of the same names, in memory and as a snapshot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from features import partitions, snapshots
from features.catalogue import FEATURE_NAMES
from features.engines import LocalEngine
from features.ingest import ingest_region
from features.profile_subset import SUBSET
from features.profiles import EncodedRegion, SourceTables, profile_as_of
from features.snapshots import snapshot_dir, write_snapshot
from features.synthetic import generate_region

DATES = [pd.Timestamp("2023-12-31"), pd.Timestamp("2025-06-30")]


@pytest.fixture(scope="module")
def ingest_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("region")
    files = generate_region(root / "demo", n_enterprises=300, seed=11)
    ingest_region(files.raw_dir, root / "ingest")
    return root / "ingest"


def test_the_subset_names_catalogue_features_only() -> None:
    assert set(SUBSET.features) <= set(FEATURE_NAMES) and len(SUBSET.features) == 12
    assert SUBSET.version != snapshots.CATALOGUE_VERSION  # never lands among the catalogue's snapshots


@pytest.mark.parametrize("as_of", DATES)
def test_subset_equals_the_catalogue_on_the_same_records(ingest_dir: Path, as_of: pd.Timestamp) -> None:
    tables = SourceTables.from_accepted(ingest_dir)
    whole = profile_as_of(tables, as_of)
    subset = EncodedRegion.of_tables(tables, SUBSET).frame_on(as_of)
    assert len(subset) > 200 and list(subset.columns) == ["uscc", "as_of", *SUBSET.features]
    pd.testing.assert_frame_equal(subset, whole[["uscc", "as_of", *SUBSET.features]])


def test_a_subset_snapshot_reads_only_its_sources_and_equals_the_catalogue(ingest_dir: Path, tmp_path: Path) -> None:
    as_of = DATES[1]
    catalogue = write_snapshot(ingest_dir, tmp_path, as_of, LocalEngine(partitions=3)).read()
    subset = write_snapshot(ingest_dir, tmp_path, as_of, LocalEngine(partitions=3, workers=2), feature_set=SUBSET)
    assert subset.path == snapshot_dir(tmp_path, as_of, SUBSET.version) and subset.rows == len(catalogue)
    assert json.loads((subset.path / snapshots.MANIFEST).read_text())["features"] == list(SUBSET.features)
    pd.testing.assert_frame_equal(subset.read(), catalogue[["uscc", "as_of", *SUBSET.features]])
    assert snapshots.latest_snapshot(tmp_path) is not None
    assert snapshots.latest_snapshot(tmp_path).path == snapshot_dir(tmp_path, as_of)  # type: ignore[union-attr]


def test_partitions_for_a_subset_hold_only_its_sources_and_columns(ingest_dir: Path, tmp_path: Path) -> None:
    folders = partitions.partition_accepted(ingest_dir, tmp_path, 2, feature_set=SUBSET)
    assert sorted(p.stem for p in folders[0].iterdir()) == sorted(SUBSET.columns)
    assert partitions.needed_columns("utilities_monthly", SUBSET) == [
        "period", "available_on", "kind", "quantity", "days_late", "_superseded_on"]


@pytest.fixture(scope="module")
def bench_ingest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Accepted tables as the bench writes them: no corrections, so ``_superseded_on`` is null throughout."""
    from bench.profile_build import write_accepted

    root = tmp_path_factory.mktemp("bench") / "ingest"
    write_accepted(root, 400, block_size=150)
    return root


def test_partitions_drop_a_correction_column_that_is_null_throughout(bench_ingest: Path, tmp_path: Path) -> None:
    folders = partitions.partition_accepted(bench_ingest, tmp_path, 2, feature_set=SUBSET)
    with pa.memory_map(str(folders[0] / "tax_monthly.arrows"), "rb") as source:
        assert "_superseded_on" not in pa.ipc.open_stream(source).schema.names
    as_of = pd.Timestamp("2026-10-31")
    got = write_snapshot(bench_ingest, tmp_path / "snap", as_of, LocalEngine(partitions=3)).read()
    expected = profile_as_of(SourceTables.from_accepted(bench_ingest), as_of).sort_values("uscc", ignore_index=True)
    assert len(got) == 400
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_the_bench_duckdb_query_gives_our_subset(bench_ingest: Path, tmp_path: Path) -> None:
    from bench.profile_build import AS_OF, DUCKDB, differences

    out = tmp_path / "duck.parquet"
    subprocess.run([sys.executable, "-c", DUCKDB, str(bench_ingest), str(out), AS_OF, "1"], check=True,
                   capture_output=True)
    ours = write_snapshot(bench_ingest, tmp_path, pd.Timestamp(AS_OF), LocalEngine(partitions=2),
                          feature_set=SUBSET).read(["uscc", *SUBSET.features])
    duck = pd.read_parquet(out)
    assert len(duck) == 400 and differences(ours, duck) == []
    duck.loc[duck.index[5], "tax_burden_12m"] += 0.01
    assert [w.split(":")[0] for w in differences(ours, duck)] == ["tax_burden_12m"]
