"""The records as of a date: corrections known only from their arrival, repaired and expired records stop counting."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.asof import in_force, known_as_of, penalties_in_force
from features.ingest import ingest_region, load_accepted
from tests.utils.raw_files import admin_row, judicial_row, list_entry_row, tax_row, write_region

T = pd.Timestamp


@pytest.fixture(scope="module")
def accepted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    root: Path = tmp_path_factory.mktemp("asof")
    rows = {
        "admin_records": [
            # 一般 penalty decided 2023-05-04, published 2023-05-10, repaired 2023-09-01 (known 2023-09-05)
            admin_row("P-REPAIRED"),
            admin_row("P-REPAIRED", status="已修复", repaired_on="2023-09-01", available_on="2023-09-05"),
            # 轻微 penalty: published three months, never repaired
            admin_row("P-MINOR", severity="轻微", decision_date="2023-01-02", published_on="2023-01-05",
                      available_on="2023-01-05"),
            # revoked by the department on 2023-07-01
            admin_row("P-REVOKED"),
            admin_row("P-REVOKED", status="已撤销", available_on="2023-07-01"),
            admin_row("L-1", kind="许可", severity="", amount="", status=""),
        ],
        "list_entries": [
            list_entry_row("AB-1", exited_on="", available_on="2022-01-12"),
            list_entry_row("AB-1", exited_on="2022-03-01", available_on="2022-03-03"),
        ],
        "judicial": [
            judicial_row("J-1", kind="失信被执行人", removed_on="", available_on="2022-08-03"),
            judicial_row("J-1", kind="失信被执行人", removed_on="2023-01-15", available_on="2023-01-20"),
        ],
        "tax_monthly": [tax_row(vat="100", filed_on="2024-02-15"), tax_row(vat="150", filed_on="2024-04-02")],
    }
    raw = write_region(root / "raw", rows)
    ingest_region(raw, root / "out")
    return {source: load_accepted(root / "out", source) for source in rows}


def ids(frame: pd.DataFrame, column: str) -> list[str]:
    return sorted(frame[column].tolist())


def test_a_repaired_penalty_counts_before_its_repair_and_not_after(accepted: dict[str, pd.DataFrame]) -> None:
    admin = accepted["admin_records"]
    assert "P-REPAIRED" in ids(penalties_in_force(admin, T("2023-08-31")), "record_id")
    # repaired on 09-01, but the platform learnt it on 09-05: on 09-02 the record as known still counts
    assert "P-REPAIRED" in ids(penalties_in_force(admin, T("2023-09-02")), "record_id")
    assert "P-REPAIRED" not in ids(penalties_in_force(admin, T("2023-09-05")), "record_id")
    assert "P-REPAIRED" not in ids(penalties_in_force(admin, T("2024-01-01")), "record_id")


def test_a_penalty_stops_counting_when_its_publication_period_ends(accepted: dict[str, pd.DataFrame]) -> None:
    admin = accepted["admin_records"]
    assert "P-MINOR" in ids(penalties_in_force(admin, T("2023-04-01")), "record_id")
    assert "P-MINOR" not in ids(penalties_in_force(admin, T("2023-04-10")), "record_id")  # 3 months after 01-05
    assert "P-MINOR" not in ids(penalties_in_force(admin, T("2023-01-01")), "record_id")  # not yet decided


def test_a_revoked_penalty_stops_counting_from_the_revocation(accepted: dict[str, pd.DataFrame]) -> None:
    admin = accepted["admin_records"]
    assert "P-REVOKED" in ids(penalties_in_force(admin, T("2023-06-30")), "record_id")
    assert "P-REVOKED" not in ids(penalties_in_force(admin, T("2023-07-01")), "record_id")


def test_a_removed_list_entry_counts_before_removal_and_not_after(accepted: dict[str, pd.DataFrame]) -> None:
    lists = accepted["list_entries"]
    assert ids(in_force(lists, "list_entries", T("2022-02-28")), "entry_id") == ["AB-1"]
    assert ids(in_force(lists, "list_entries", T("2022-03-03")), "entry_id") == []
    assert ids(in_force(lists, "list_entries", T("2022-01-09")), "entry_id") == []  # not yet listed


def test_a_removed_dishonest_debtor_stops_counting(accepted: dict[str, pd.DataFrame]) -> None:
    judicial = accepted["judicial"]
    assert ids(in_force(judicial, "judicial", T("2023-01-14")), "case_id") == ["J-1"]
    assert ids(in_force(judicial, "judicial", T("2023-01-20")), "case_id") == []


def test_a_correction_is_seen_only_from_its_arrival(accepted: dict[str, pd.DataFrame]) -> None:
    tax = accepted["tax_monthly"]
    assert known_as_of(tax, "tax_monthly", T("2024-02-14"))["vat"].tolist() == []
    assert known_as_of(tax, "tax_monthly", T("2024-03-01"))["vat"].tolist() == [100.0]
    assert known_as_of(tax, "tax_monthly", T("2024-04-02"))["vat"].tolist() == [150.0]


def test_in_force_keeps_non_penalty_records(accepted: dict[str, pd.DataFrame]) -> None:
    admin = accepted["admin_records"]
    assert "L-1" in ids(in_force(admin, "admin_records", T("2024-01-01")), "record_id")
    assert "P-REPAIRED" not in ids(in_force(admin, "admin_records", T("2024-01-01")), "record_id")
