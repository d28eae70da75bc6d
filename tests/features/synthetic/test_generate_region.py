"""The synthetic region: same seed same files, a plausible default rate, dirt for the quarantine, truth apart."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from features.ingest import ingest_region
from features.synthetic import application_months, generate_region
from features.uscc import check_uscc

SOURCES = ("registration", "tax_monthly", "social_insurance_monthly", "utilities_monthly", "admin_records",
           "judicial", "list_entries")


def _digest(folder: Path) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())).hexdigest()


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_region(tmp_path_factory.mktemp("r") / "demo", n_enterprises=1500, seed=42).root


def test_same_seed_gives_the_same_files(tmp_path: Path, region: Path) -> None:
    again = generate_region(tmp_path / "demo", n_enterprises=1500, seed=42)
    assert _digest(again.raw_dir) == _digest(region / "raw")
    other = generate_region(tmp_path / "other", n_enterprises=1500, seed=43)
    assert _digest(other.raw_dir) != _digest(region / "raw")


def test_writes_every_source_and_a_manifest(region: Path) -> None:
    manifest = json.loads((region / "raw" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["extracted_on"] == "2026-10-31"
    for source in SOURCES:
        frame = pd.read_csv(region / "raw" / f"{source}.csv", dtype=str)
        assert len(frame) > 0, source


def test_default_rate_is_between_three_and_eight_percent(region: Path) -> None:
    truth = pd.read_parquet(region / "truth" / "oracle_pd.parquet")
    assert 0.03 <= truth["true_pd"].mean() <= 0.08
    assert truth[["uscc", "as_of"]].duplicated().sum() == 0


def test_outcomes_hold_only_defaults_reported_by_extraction(region: Path) -> None:
    defaults = pd.read_csv(region / "outcomes" / "defaults.csv", dtype=str)
    assert (defaults["reported_on"] <= "2026-10-31").all()
    assert defaults["uscc"].is_unique


def test_truth_is_kept_apart_from_what_the_model_sees(region: Path) -> None:
    raw_columns = {c for s in SOURCES for c in pd.read_csv(region / "raw" / f"{s}.csv", nrows=1).columns}
    assert "true_pd" not in raw_columns
    assert not (region / "raw" / "oracle_pd.parquet").exists()


def test_dirty_rows_are_a_small_share_and_all_land_in_quarantine(region: Path, tmp_path: Path) -> None:
    summary = ingest_region(region / "raw", tmp_path / "ingest")
    share = summary.total_quarantined / summary.total_read
    assert 0.0005 < share < 0.03
    reports = summary.by_source
    for source in SOURCES:
        assert reports[source].quarantined > 0, source
    assert reports["registration"].by_rule.get("uscc.check_character", 0) >= 1
    assert reports["tax_monthly"].by_rule.get("duplicate.key", 0) >= 1


def test_valid_codes_pass_gb32100(region: Path) -> None:
    codes = pd.read_csv(region / "raw" / "registration.csv", dtype=str)["uscc"].drop_duplicates()
    valid = sum(check_uscc(c).valid for c in codes)
    assert valid / len(codes) > 0.99


def test_application_months_leave_a_year_of_history_and_outcome() -> None:
    from features.synthetic.population import Timeline

    months = pd.date_range("2022-06-01", periods=52, freq="MS")
    picked = application_months(Timeline(months=months, extracted_on=pd.Timestamp("2026-10-31")))
    assert min(picked) >= 12
    assert max(picked) <= len(months) - 1 - 12
