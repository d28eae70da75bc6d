"""The bench's shared subset equals the catalogue's features of the same names, in memory and as a snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from features import snapshots
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
    folders = snapshots.partition_accepted(ingest_dir, tmp_path, 2, feature_set=SUBSET)
    assert sorted(p.stem for p in folders[0].iterdir()) == sorted(SUBSET.columns)
    assert snapshots.needed_columns("utilities_monthly", SUBSET) == [
        "period", "available_on", "kind", "quantity", "days_late", "_superseded_on"]
