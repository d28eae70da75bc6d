"""A generated region round-trips: every dirty row the generator wrote is quarantined with its rule, nothing else."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.ingest import IngestSummary, ingest_region, load_accepted, load_quarantine
from features.schemas import SOURCES
from features.synthetic import generate_region


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, IngestSummary]:
    root = tmp_path_factory.mktemp("region")
    files = generate_region(root / "demo", n_enterprises=1500, seed=11)
    return root / "demo", ingest_region(files.raw_dir, root / "ingest", chunk_rows=20_000)


def test_every_dirty_row_is_quarantined_with_its_rule_and_no_valid_row_is(region: tuple[Path, IngestSummary]) -> None:
    root, summary = region
    truth = pd.read_csv(root / "truth" / "dirty_rows.csv", dtype={"line": int})
    for spec in SOURCES:
        quarantine = load_quarantine(root.parent / "ingest", spec.name)
        got = set(zip(quarantine["_file"], quarantine["_line"], quarantine["_rule"], quarantine["_field"],
                      strict=True))
        expected = truth[(truth["source"] == spec.name) & (truth["rule"] != "duplicate")]
        assert got == set(zip(expected["file"], expected["line"], expected["rule"], expected["field"], strict=True))
        repeats = truth[(truth["source"] == spec.name) & (truth["rule"] == "duplicate")]
        report = summary.by_source[spec.name]
        assert report.duplicates == len(repeats)
        assert report.read == report.accepted + report.quarantined + report.duplicates
        assert len(load_accepted(root.parent / "ingest", spec.name)) == report.accepted
    covered = set(truth["rule"])
    assert {"uscc.check_character", "uscc.region", "date.future", "amount.negative", "code.unknown",
            "duplicate.conflict", "conditional.required", "duplicate"} <= covered


def test_corrections_arrive_as_versions(region: tuple[Path, IngestSummary]) -> None:
    _, summary = region
    for source in ("judicial", "list_entries", "commitments", "admin_records"):
        assert summary.by_source[source].corrections > 0, source


def test_the_quality_report_is_written(region: tuple[Path, IngestSummary]) -> None:
    root, _ = region
    reports = root.parent / "ingest" / "reports"
    assert (reports / "quality.json").is_file() and (reports / "quality.html").is_file()
