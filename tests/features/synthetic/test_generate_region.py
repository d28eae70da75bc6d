"""The synthetic region: same seed same files, every source in a feed, a plausible default rate, truth apart."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd
import pytest

from features import atomic
from features.schemas import SOURCES
from features.synthetic import HISTORY_MONTHS, RegionFiles, application_months, generate_region
from features.synthetic.feeds import DEMO_FEEDS, Feed
from features.synthetic.population import Timeline
from tests.features.synthetic.conftest import SEED
from tests.features.synthetic.reference import manifest


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path: Path, region: RegionFiles) -> None:
    again = generate_region(tmp_path / "demo", n_enterprises=1500, seed=SEED)
    assert _digests(again.root) == _digests(region.root)
    other = generate_region(tmp_path / "other", n_enterprises=1500, seed=SEED + 1)
    assert _digests(other.raw_dir) != _digests(region.raw_dir)


def test_manifest_lists_a_feed_for_every_source(region: RegionFiles) -> None:
    info = manifest(region.raw_dir)
    assert (info["region"], info["extracted_on"], info["seed"], info["enterprises"]) == (
        "demo", "2026-10-31", SEED, 1500)
    assert info["history_months"] == HISTORY_MONTHS == 64
    assert {feed["source"] for feed in info["feeds"]} == {spec.name for spec in SOURCES}
    for feed in info["feeds"]:
        assert (region.raw_dir / feed["path"]).is_file(), feed["path"]
        assert feed["format"] in ("csv", "parquet", "jsonl")
        assert feed["encoding"] in ("utf-8", "gb18030")
    written = {p.name for p in region.raw_dir.iterdir()} - {"manifest.json"}
    assert written == {feed["path"] for feed in info["feeds"]}


def test_a_region_is_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    root = generate_region(tmp_path / "demo", n_enterprises=200, seed=1).root
    before = _digests(root)
    broken = (*DEMO_FEEDS[:-1], Feed("commitments", "commitments.xml", format="xml"))
    with pytest.raises(ValueError, match="format"):
        generate_region(root, n_enterprises=200, seed=2, feeds=broken)
    assert _digests(root) == before
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]  # no staging folder left behind
    missing = tuple(feed for feed in DEMO_FEEDS if feed.source != "judicial")
    with pytest.raises(ValueError, match="judicial"):
        generate_region(root, n_enterprises=200, seed=2, feeds=missing)
    assert _digests(root) == before


def test_a_killed_generators_staging_folder_is_removed_by_the_next_run(tmp_path: Path) -> None:
    """A folder named for this process id with another start time belongs to a generator that is gone."""
    started = atomic._start_time(os.getpid())
    if not started:
        pytest.skip("process start times need /proc")
    left = tmp_path / f".demo.staging-{atomic._host()}-{os.getpid()}-{started - 1}-{'b' * 12}"
    (left / "raw").mkdir(parents=True)
    generate_region(tmp_path / "demo", n_enterprises=200, seed=1)
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]


def test_default_rate_is_between_three_and_eight_percent(region: RegionFiles) -> None:
    truth = pd.read_parquet(region.oracle_path)
    assert 0.03 <= truth["true_pd"].mean() <= 0.08
    assert truth[["uscc", "as_of"]].duplicated().sum() == 0


def test_outcomes_hold_only_defaults_reported_by_extraction(region: RegionFiles) -> None:
    defaults = pd.read_csv(region.outcomes_path, dtype=str)
    assert len(defaults) > 0
    assert (defaults["reported_on"] <= "2026-10-31").all()
    assert defaults["uscc"].is_unique


def test_truth_is_kept_apart_from_what_the_model_sees(region: RegionFiles) -> None:
    assert {p.name for p in (region.root / "truth").iterdir()} == {"oracle_pd.parquet", "dirty_rows.csv"}
    raw_text = b"".join(p.read_bytes() for p in region.raw_dir.iterdir() if p.suffix != ".parquet")
    assert b"true_pd" not in raw_text
    assert b"dirty" not in raw_text


def test_application_months_leave_a_year_of_history_and_outcome() -> None:
    months = pd.date_range("2021-06-01", periods=HISTORY_MONTHS, freq="MS")
    picked = application_months(Timeline(months=months, extracted_on=pd.Timestamp("2026-10-31")))
    assert min(picked) >= 12
    assert max(picked) <= len(months) - 1 - 12
