"""Ingest of raw files: typed accepted rows, one quarantine row per broken row, reports, and a safe swap."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from features.ingest import IngestError, IngestSummary, current, ingest_region, load_accepted, load_quarantine
from features.schemas import SOURCES, SOURCES_BY_NAME
from features.uscc import check_character, make_uscc
from tests.utils.raw_files import (
    DEFAULT_ROWS,
    EXTRACTED_ON,
    Row,
    admin_row,
    commitment_row,
    filename,
    housing_fund_row,
    judicial_row,
    list_entry_row,
    registration_row,
    social_insurance_row,
    tax_grade_row,
    tax_row,
    uscc_for,
    utilities_row,
    write_csv,
    write_region,
)

REGISTERED = uscc_for(1)
UNREGISTERED = uscc_for(2)
QUARANTINE_EXTRA = ["_file", "_line", "_field", "_rule", "_message"]
ACCEPTED_EXTRA = ["_superseded_on", "_file", "_line"]


def ingest(tmp_path: Path, rows: dict[str, list[Row]] | None = None, **kwargs: object) -> tuple[IngestSummary, Path]:
    raw = write_region(tmp_path / "raw", rows, **kwargs)  # type: ignore[arg-type]
    out = tmp_path / "out"
    return ingest_region(raw, out), out


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


# --- valid rows come through typed ---------------------------------------------------------------------------


def test_valid_rows_are_accepted_and_typed(tmp_path: Path) -> None:
    summary, out = ingest(tmp_path)
    assert summary.total_quarantined == 0
    assert summary.total_read == summary.total_accepted == len(SOURCES)

    registration = load_accepted(out, "registration")
    assert list(registration.columns) == [*SOURCES_BY_NAME["registration"].column_names, *ACCEPTED_EXTRA]
    assert registration["_superseded_on"].isna().all() and registration.loc[0, "_line"] == 2
    assert registration.loc[0, "_file"] == "registration.csv"
    assert registration.loc[0, "uscc"] == REGISTERED
    assert registration["founded_on"].dtype == "datetime64[ns]"
    assert registration.loc[0, "founded_on"] == pd.Timestamp("2015-03-02")
    assert registration["status_on"].isna().all()  # empty while 存续
    assert registration["registered_capital"].dtype == "float64"
    assert registration.loc[0, "registered_capital"] == 1_000_000.0
    assert registration.loc[0, "size_class"] == "小"

    tax = load_accepted(out, "tax_monthly")
    assert tax["period"].dtype == "datetime64[ns]"
    assert tax.loc[0, "period"] == pd.Timestamp("2024-01-01")  # first day of the month
    assert tax.loc[0, "vat"] == 12000.5
    assert tax["filed_on"].dtype == "datetime64[ns]"

    grade = load_accepted(out, "tax_credit_grade")
    assert grade.loc[0, "year"] == pd.Timestamp("2023-01-01") and grade.loc[0, "grade"] == "B"

    admin = load_accepted(out, "admin_records")
    assert admin.loc[0, "kind"] == "处罚" and admin.loc[0, "severity"] == "一般"
    assert admin["repaired_on"].isna().all() and admin["repaired_on"].dtype == "datetime64[ns]"


def test_missing_optional_values_are_null_not_empty_strings(tmp_path: Path) -> None:
    rows = {"list_entries": [list_entry_row(exited_on="", reason="")],
            "admin_records": [admin_row(kind="许可", severity="", amount="", status="")]}
    _, out = ingest(tmp_path, rows)
    entries = load_accepted(out, "list_entries")
    assert entries["exited_on"].isna().all() and entries.loc[0, "reason"] is None
    admin = load_accepted(out, "admin_records")
    assert admin.loc[0, "severity"] is None and admin["amount"].isna().all()


# --- every rule quarantines its row, naming field and rule ----------------------------------------------------

BAD_CHECK = REGISTERED[:17] + ("X" if REGISTERED[17] != "X" else "Y")

RULE_CASES = [
    ("registration", registration_row(uscc_for(3), name=""), "name", "required"),
    ("tax_monthly", tax_row(uscc=REGISTERED[:17]), "uscc", "uscc.length"),
    ("tax_monthly", tax_row(uscc="9144030000000O019B"), "uscc", "uscc.charset"),
    ("tax_monthly", tax_row(uscc="2144030000000001XB"), "uscc", "uscc.department"),
    ("tax_monthly", tax_row(uscc="91A40300000000019B"), "uscc", "uscc.region"),
    ("tax_monthly", tax_row(uscc=BAD_CHECK), "uscc", "uscc.check_character"),
    ("tax_monthly", tax_row(uscc=UNREGISTERED), "uscc", "uscc.unregistered"),
    ("registration", registration_row(uscc_for(3), founded_on="2015/03/02"), "founded_on", "date.format"),
    ("registration", registration_row(uscc_for(3), founded_on="2015-02-30"), "founded_on", "date.format"),
    ("tax_monthly", tax_row(period="2024-13"), "period", "period.format"),
    ("tax_monthly", tax_row(period="2024-1"), "period", "period.format"),
    ("tax_monthly", tax_row(vat="1,200.00"), "vat", "number.format"),
    ("social_insurance_monthly", social_insurance_row(insured_headcount="N/A"), "insured_headcount",
     "number.format"),
    ("utilities_monthly", utilities_row(kind="steam"), "kind", "code.unknown"),
    ("registration", registration_row(uscc_for(3), industry="c13"), "industry", "code.unknown"),
    ("registration", registration_row(uscc_for(3), region_code="44030"), "region_code", "code.unknown"),
    ("tax_monthly", tax_row(overdue_tax="-0.01"), "overdue_tax", "amount.negative"),
    ("utilities_monthly", utilities_row(days_late="-3"), "days_late", "amount.negative"),
    ("tax_monthly", tax_row(filed_on="2024-07-01"), "filed_on", "date.future"),
    ("tax_monthly", tax_row(period="2024-07", filed_on="2024-06-30"), "period", "date.future"),
    ("judicial", judicial_row(case_id="J-2", removed_on="2022-07-31"), "removed_on", "date.order"),
    ("list_entries", list_entry_row(entry_id="L-2", exited_on="2021-12-31"), "exited_on", "date.order"),
    ("admin_records", admin_row(record_id="AR-2", published_on="2023-05-03"), "published_on", "date.order"),
    ("admin_records", admin_row(record_id="AR-2", repaired_on="2023-05-01"), "repaired_on", "date.order"),
    ("registration", registration_row(uscc_for(3), status="注销", status_on="2014-12-31"), "status_on",
     "date.order"),
    ("tax_monthly", tax_row(period="2024-03", filed_on="2024-02-20"), "filed_on", "date.order"),
    ("tax_credit_grade", tax_grade_row(year="23"), "year", "year.format"),
    ("tax_credit_grade", tax_grade_row(year="2025"), "year", "date.future"),
    ("tax_credit_grade", tax_grade_row(grade="E"), "grade", "code.unknown"),
    ("registration", registration_row(uscc_for(3), industry="C44"), "industry", "code.unknown"),
    ("registration", registration_row(uscc_for(3), region_code="990300"), "region_code", "code.unknown"),
    ("housing_fund_monthly", housing_fund_row(arrears="-1"), "arrears", "amount.negative"),
    ("admin_records", admin_row(record_id="AR-2", severity=""), "severity", "conditional.required"),
    ("admin_records", admin_row(record_id="AR-2", status=""), "status", "conditional.required"),
    ("admin_records", admin_row(record_id="AR-2", status="已修复"), "repaired_on", "conditional.required"),
    ("registration", registration_row(uscc_for(3), status="吊销"), "status_on", "conditional.required"),
    ("commitments", commitment_row("CM-2", resolved_on=""), "resolved_on", "conditional.required"),
    ("admin_records", admin_row(record_id="AR-2", kind="许可", severity="轻微", status=""), "severity",
     "conditional.not_applicable"),
    ("admin_records", admin_row(record_id="AR-2", kind="许可", severity="", status=""), "amount",
     "conditional.not_applicable"),
    ("admin_records", admin_row(record_id="AR-2", repaired_on="2023-06-01"), "repaired_on",
     "conditional.not_applicable"),
    ("commitments", commitment_row("CM-2", fulfilment="pending"), "resolved_on", "conditional.not_applicable"),
    ("tax_monthly", tax_row(vat="1"), "uscc,period", "duplicate.conflict"),
    ("utilities_monthly", utilities_row(quantity="2"), "uscc,period,kind", "duplicate.conflict"),
    ("admin_records", admin_row(amount="7000"), "record_id", "duplicate.conflict"),
]


@pytest.mark.parametrize(("source", "bad_row", "field", "rule"), RULE_CASES,
                         ids=[f"{case[0]}-{case[3]}-{case[2]}" for case in RULE_CASES])
def test_each_rule_quarantines_the_row(tmp_path: Path, source: str, bad_row: Row, field: str, rule: str) -> None:
    good = DEFAULT_ROWS[source]()
    summary, out = ingest(tmp_path, {source: [good, bad_row]})

    quarantine = load_quarantine(out, source)
    assert len(quarantine) == 1
    row = quarantine.iloc[0]
    assert (row["_line"], row["_field"], row["_rule"]) == (2 + 1, field, rule)
    assert row["_message"].startswith(f"{field}: ")
    assert rule in row["_message"] or "GB 32100" in row["_message"]
    for column, value in bad_row.items():  # the original strings are kept
        assert row[column] == value
    report = summary.by_source[source]
    assert (report.read, report.accepted, report.quarantined) == (2, 1, 1)
    assert report.by_rule == {rule: 1} and report.by_field == {field: 1}
    assert len(load_accepted(out, source)) == 1


def test_wrong_check_character_message_names_the_expected_character(tmp_path: Path) -> None:
    first17 = "91440300MA5DC6QB1"
    expected = check_character(first17)
    wrong = "X" if expected != "X" else "Y"
    _, out = ingest(tmp_path, {"tax_monthly": [tax_row(uscc=first17 + wrong)]})
    message = load_quarantine(out, "tax_monthly").loc[0, "_message"]
    assert message == f"uscc: check character (position 18) is '{wrong}', expected '{expected}' (GB 32100)"


def test_the_first_failing_rule_in_rule_order_wins(tmp_path: Path) -> None:
    rows = {"registration": [
        registration_row(),
        registration_row(uscc_for(3), name="", size_class="特大"),  # required before code.unknown
        registration_row(uscc_for(4), size_class="特大", founded_on="2015/1/1"),  # date.format before code.unknown
        registration_row(uscc_for(5), registered_capital="-1", founded_on="2030-01-01"),  # negative before future
        registration_row(BAD_CHECK, founded_on="bad"),  # uscc before formats
    ]}
    _, out = ingest(tmp_path, rows)
    quarantine = load_quarantine(out, "registration")
    assert list(zip(quarantine["_line"], quarantine["_rule"], strict=True)) == [
        (3, "required"), (4, "date.format"), (5, "amount.negative"), (6, "uscc.check_character")]


# --- registry, duplicates and warnings -----------------------------------------------------------------------


def test_codes_quarantined_in_registration_are_unregistered_elsewhere(tmp_path: Path) -> None:
    broken = uscc_for(3)
    rows = {"registration": [registration_row(), registration_row(broken, size_class="特大")],
            "tax_monthly": [tax_row(), tax_row(uscc=broken), tax_row(uscc=UNREGISTERED)]}
    summary, out = ingest(tmp_path, rows)
    quarantine = load_quarantine(out, "tax_monthly")
    assert quarantine["_rule"].tolist() == ["uscc.unregistered", "uscc.unregistered"]
    assert quarantine["uscc"].tolist() == [broken, UNREGISTERED]
    assert summary.by_source["tax_monthly"].accepted == 1


def test_exact_duplicates_are_dropped_and_counted_conflicts_quarantined(tmp_path: Path) -> None:
    rows = {"tax_monthly": [tax_row(vat="-5"),  # rejected: does not claim the key
                            tax_row(vat="100"),
                            tax_row(vat="100"),  # an exact repeat: dropped, counted
                            tax_row(vat="200"),  # same key, same filed_on, other values: a conflict
                            tax_row(period="2024-02", vat="300", filed_on="2024-03-15")]}
    summary, out = ingest(tmp_path, rows)
    accepted = load_accepted(out, "tax_monthly")
    assert accepted["vat"].tolist() == [100.0, 300.0]
    quarantine = load_quarantine(out, "tax_monthly")
    assert quarantine["_rule"].tolist() == ["amount.negative", "duplicate.conflict"]
    assert quarantine["_line"].tolist() == [2, 5]
    assert "tax_monthly.csv line 3" in str(quarantine.loc[1, "_message"])
    report = summary.by_source["tax_monthly"]
    assert (report.read, report.accepted, report.quarantined, report.duplicates) == (5, 2, 2, 1)
    assert report.files[0].duplicates == 1


def test_a_correction_supersedes_the_earlier_version_and_keeps_it(tmp_path: Path) -> None:
    rows = {"tax_monthly": [tax_row(vat="100", filed_on="2024-02-15"),
                            tax_row(vat="150", filed_on="2024-04-02"),  # 更正申报
                            tax_row(vat="175", filed_on="2024-03-01")],  # arrived between the two
            "judicial": [judicial_row(removed_on="", available_on="2022-08-05"),
                         judicial_row(removed_on="2023-01-15", available_on="2023-01-20")]}
    summary, out = ingest(tmp_path, rows)
    tax = load_accepted(out, "tax_monthly").sort_values("filed_on")
    assert tax["vat"].tolist() == [100.0, 175.0, 150.0]
    assert tax["_superseded_on"].tolist() == [pd.Timestamp("2024-03-01"), pd.Timestamp("2024-04-02"), pd.NaT]
    assert current(load_accepted(out, "tax_monthly"))["vat"].tolist() == [150.0]
    judicial = current(load_accepted(out, "judicial"))
    assert judicial["removed_on"].tolist() == [pd.Timestamp("2023-01-15")]
    assert summary.by_source["tax_monthly"].corrections == 2
    assert summary.by_source["judicial"].corrections == 1
    assert summary.total_quarantined == 0


def test_position_17_warning_is_accepted_and_counted(tmp_path: Path) -> None:
    good = uscc_for(7)
    first17 = good[:16] + ("0" if good[16] != "0" else "1")
    warned = first17 + check_character(first17)
    rows = {"registration": [registration_row(), registration_row(warned)],
            "tax_monthly": [tax_row(uscc=warned, period=p, filed_on="2024-04-15") for p in ("2024-01", "2024-02",
                                                                                               "2024-03")]}
    summary, out = ingest(tmp_path, rows)
    assert summary.total_quarantined == 0
    assert summary.by_source["registration"].uscc_warnings == 1
    assert summary.by_source["tax_monthly"].uscc_warnings == 3
    assert summary.by_source["judicial"].uscc_warnings == 0
    assert warned in set(load_accepted(out, "registration")["uscc"])


# --- reports, layout and reconciliation ----------------------------------------------------------------------


def test_output_layout_and_reports_reconcile(tmp_path: Path) -> None:
    rows = {"tax_monthly": [tax_row(), tax_row(), tax_row(period="2024-13"), tax_row(uscc=UNREGISTERED)]}
    summary, out = ingest(tmp_path, rows)
    for spec in SOURCES:
        accepted = out / "accepted" / f"{spec.name}.parquet"  # a dataset folder, one part per chunk
        assert [p.name for p in sorted(accepted.iterdir())] == ["part-00000.parquet"]
        assert len(pd.read_parquet(accepted)) == summary.by_source[spec.name].accepted
        quarantine = load_quarantine(out, spec.name)  # written even when empty
        assert list(quarantine.columns) == [*spec.column_names, *QUARANTINE_EXTRA]
        report = json.loads((out / "reports" / f"{spec.name}.json").read_text(encoding="utf-8"))
        assert set(report) == {"source", "read", "accepted", "quarantined", "duplicates", "corrections", "by_rule",
                               "by_field", "uscc_warnings", "files"}
        assert report["read"] == report["accepted"] + report["quarantined"] + report["duplicates"]
        assert sum(report["by_rule"].values()) == sum(report["by_field"].values()) == report["quarantined"]
        assert report == summary.by_source[spec.name].to_dict()
        assert [f["path"] for f in report["files"]] == [spec.filename]
    tax = json.loads((out / "reports" / "tax_monthly.json").read_text(encoding="utf-8"))
    assert tax["by_rule"] == {"uscc.unregistered": 1, "period.format": 1}
    assert tax["by_field"] == {"period": 1, "uscc": 1}
    assert tax["files"] == [{"path": "tax_monthly.csv", "format": "csv", "encoding": "utf-8", "department": None,
                             "read": 4, "accepted": 1, "quarantined": 2, "duplicates": 1}]

    total = json.loads((out / "reports" / "summary.json").read_text(encoding="utf-8"))
    assert total["region"] == "testville" and total["extracted_on"] == EXTRACTED_ON
    n = len(SOURCES)
    assert (total["total_read"], total["total_accepted"], total["total_quarantined"]) == (n + 3, n, 2)
    assert total["total_duplicates"] == 1
    assert sorted(p.name for p in out.iterdir()) == ["accepted", "quarantine", "reports"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_empty_quarantine_keeps_its_types(tmp_path: Path) -> None:
    _, out = ingest(tmp_path)
    quarantine = load_quarantine(out, "tax_monthly")
    assert quarantine.empty and quarantine["_line"].dtype == "int64"
    empty = write_csv(tmp_path / "raw" / filename("judicial"), SOURCES_BY_NAME["judicial"].column_names, [])
    assert empty.read_text(encoding="utf-8").count("\n") == 1
    ingest_region(tmp_path / "raw", out)
    judicial = load_accepted(out, "judicial")
    assert judicial.empty and judicial["listed_on"].dtype == "datetime64[ns]"


def test_line_numbers_count_blank_lines_and_short_rows_are_quarantined(tmp_path: Path) -> None:
    raw = write_region(tmp_path / "raw")
    spec = SOURCES_BY_NAME["tax_monthly"]
    header = ",".join(spec.column_names)
    good = ",".join(tax_row().values())
    missing = ",".join(tax_row(period="2024-02", filed_on="").values())
    (raw / spec.filename).write_text(f"{header}\n\n{good}\n{REGISTERED},2024-02\n\n{missing}\n", encoding="utf-8")
    summary = ingest_region(raw, tmp_path / "out")
    quarantine = load_quarantine(tmp_path / "out", "tax_monthly")
    assert quarantine[["_line", "_field", "_rule"]].values.tolist() == [
        [6, "filed_on", "required"], [4, "(row)", "row.format"]]
    assert "2024-02" in str(quarantine.loc[1, "_message"])
    assert load_accepted(tmp_path / "out", "tax_monthly")["_line"].tolist() == [3]
    assert summary.by_source["tax_monthly"].read == 3  # blank lines are not rows


def test_same_input_gives_identical_output(tmp_path: Path) -> None:
    rows = {"tax_monthly": [tax_row(), tax_row(vat="x"), tax_row(period="2024-02"), tax_row()],
            "admin_records": [admin_row(), admin_row(record_id="AR-2", severity="")]}
    raw = write_region(tmp_path / "raw", rows)
    ingest_region(raw, tmp_path / "first")
    ingest_region(raw, tmp_path / "second")
    first, second = snapshot(tmp_path / "first"), snapshot(tmp_path / "second")
    assert first.keys() == second.keys() and len(first) == 3 * len(SOURCES) + 3
    assert {"reports/quality.json", "reports/quality.html"} <= set(first)
    assert first == second


# --- failures leave the previous output alone ----------------------------------------------------------------


def test_a_failed_run_leaves_the_previous_output_unchanged(tmp_path: Path) -> None:
    _, out = ingest(tmp_path, {"tax_monthly": [tax_row(), tax_row(period="2024-02")]})
    before = snapshot(out)

    broken = tmp_path / "broken"
    write_region(broken, {"tax_monthly": [tax_row()]}, omit_columns={"list_entries": ["entered_on"]})
    with pytest.raises(IngestError, match=r"list_entries\.csv.*entered_on"):
        ingest_region(broken, out)

    assert snapshot(out) == before
    assert len(load_accepted(out, "tax_monthly")) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken", "out", "raw"]


def test_a_new_run_replaces_the_whole_output(tmp_path: Path) -> None:
    _, out = ingest(tmp_path, {"tax_monthly": [tax_row(), tax_row(period="2024-02")]})
    (out / "accepted" / "stale.parquet").write_bytes(b"old")
    write_region(tmp_path / "raw", {"tax_monthly": [tax_row()]})
    ingest_region(tmp_path / "raw", out)
    assert not (out / "accepted" / "stale.parquet").exists()
    assert len(load_accepted(out, "tax_monthly")) == 1


def test_missing_file_is_an_ingest_error(tmp_path: Path) -> None:
    raw = write_region(tmp_path / "raw", omit_files=["judicial"])
    with pytest.raises(IngestError, match=r"judicial\.csv"):
        ingest_region(raw, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_manifest_is_an_ingest_error(tmp_path: Path) -> None:
    raw = write_region(tmp_path / "raw")
    (raw / "manifest.json").unlink()
    with pytest.raises(IngestError, match=r"manifest\.json"):
        ingest_region(raw, tmp_path / "out")


def test_unparseable_csv_is_an_ingest_error(tmp_path: Path) -> None:
    raw = write_region(tmp_path / "raw")
    (raw / filename("tax_monthly")).write_bytes(b"uscc,period\n\xff\xfe,2024-01\n")
    with pytest.raises(IngestError, match=r"tax_monthly\.csv"):
        ingest_region(raw, tmp_path / "out")


def test_load_accepted_refuses_an_unknown_source(tmp_path: Path) -> None:
    _, out = ingest(tmp_path)
    with pytest.raises(IngestError, match="unknown source"):
        load_accepted(out, "weather")


def test_extra_columns_are_ignored(tmp_path: Path) -> None:
    raw = write_region(tmp_path / "raw")
    spec = SOURCES_BY_NAME["judicial"]
    write_csv(raw / spec.filename, [*spec.column_names, "note"], [{**judicial_row(), "note": "x"}])
    ingest_region(raw, tmp_path / "out")
    assert list(current(load_accepted(tmp_path / "out", "judicial")).columns) == list(spec.column_names)


def test_registration_codes_other_departments(tmp_path: Path) -> None:
    code = make_uscc("5", "1", "440300", "50000123")  # 民政: a social organisation
    _, out = ingest(tmp_path, {"registration": [registration_row(code)], "tax_monthly": [tax_row(uscc=code)]})
    assert load_accepted(out, "tax_monthly")["uscc"].tolist() == [code]
