"""Factories for small raw extracts (docs/data-sources.md) written to a temporary directory.

Each ``*_row`` returns one valid row as strings; override any column by keyword. ``write_region`` writes all
ten CSVs and the manifest, with a valid default for any source not given.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from features.schemas import SOURCES, SOURCES_BY_NAME
from features.uscc import make_uscc

EXTRACTED_ON = "2024-06-30"
Row = dict[str, str]


def uscc_for(n: int, region: str = "440300") -> str:
    """A valid enterprise USCC (市场监管, enterprise) with organisation code number ``n``."""
    return make_uscc("9", "1", region, f"{n:08d}")


def registration_row(uscc: str | None = None, **overrides: str) -> Row:
    row = {
        "uscc": uscc or uscc_for(1), "name": "深圳示例科技有限公司", "founded_on": "2015-03-02",
        "industry": "C13", "region_code": "440300", "registered_capital": "1000000",
        "enterprise_type": "有限责任公司", "size_class": "小", "status": "存续", "status_on": "",
        "available_on": "2015-03-09",
    }
    return {**row, **overrides}


def tax_row(uscc: str | None = None, period: str = "2024-01", **overrides: str) -> Row:
    row = {
        "uscc": uscc or uscc_for(1), "period": period, "vat": "12000.50", "cit": "0",
        "invoiced_sales": "300000", "overdue_tax": "0", "filed_on": "2024-02-15",
    }
    return {**row, **overrides}


def social_insurance_row(uscc: str | None = None, period: str = "2024-01", **overrides: str) -> Row:
    row = {
        "uscc": uscc or uscc_for(1), "period": period, "insured_headcount": "25",
        "contribution_due": "40000", "contribution_paid": "40000", "arrears": "0",
        "available_on": "2024-02-10",
    }
    return {**row, **overrides}


def utilities_row(uscc: str | None = None, period: str = "2024-01", kind: str = "electricity",
                  **overrides: str) -> Row:
    row = {
        "uscc": uscc or uscc_for(1), "period": period, "kind": kind, "quantity": "15000.5",
        "amount_billed": "12000", "amount_paid": "12000", "days_late": "0", "available_on": "2024-02-05",
    }
    return {**row, **overrides}


def tax_grade_row(uscc: str | None = None, year: str = "2023", **overrides: str) -> Row:
    row = {"uscc": uscc or uscc_for(1), "year": year, "grade": "B", "evaluated_on": "2024-04-15",
           "available_on": "2024-04-20"}
    return {**row, **overrides}


def housing_fund_row(uscc: str | None = None, period: str = "2024-01", **overrides: str) -> Row:
    row = {
        "uscc": uscc or uscc_for(1), "period": period, "contributors": "12", "contribution_due": "18000",
        "contribution_paid": "18000", "arrears": "0", "available_on": "2024-02-12",
    }
    return {**row, **overrides}


def admin_row(record_id: str = "AR-1", uscc: str | None = None, **overrides: str) -> Row:
    row = {
        "record_id": record_id, "uscc": uscc or uscc_for(1), "kind": "处罚", "decision_date": "2023-05-04",
        "published_on": "2023-05-10", "department": "深圳市市场监督管理局", "severity": "一般",
        "amount": "5000", "status": "有效", "repaired_on": "", "available_on": "2023-05-10",
    }
    return {**row, **overrides}


def judicial_row(case_id: str = "J-1", uscc: str | None = None, **overrides: str) -> Row:
    row = {
        "case_id": case_id, "uscc": uscc or uscc_for(1), "kind": "被执行人", "court": "深圳市中级人民法院",
        "listed_on": "2022-08-01", "removed_on": "2023-01-15", "amount": "250000", "available_on": "2023-01-20",
    }
    return {**row, **overrides}


def list_entry_row(entry_id: str = "L-1", uscc: str | None = None, **overrides: str) -> Row:
    row = {
        "entry_id": entry_id, "uscc": uscc or uscc_for(1), "list_name": "abnormal",
        "entered_on": "2022-01-10", "exited_on": "2022-03-01", "reason": "未按时报送年报",
        "department": "深圳市市场监督管理局", "available_on": "2022-03-03",
    }
    return {**row, **overrides}


def commitment_row(commitment_id: str = "CM-1", uscc: str | None = None, **overrides: str) -> Row:
    row = {
        "commitment_id": commitment_id, "uscc": uscc or uscc_for(1), "kind": "告知承诺",
        "committed_on": "2023-03-01", "fulfilment": "kept", "resolved_on": "2023-09-01",
        "department": "深圳市发展和改革委员会", "available_on": "2023-09-05",
    }
    return {**row, **overrides}


DEFAULT_ROWS: dict[str, Callable[[], Row]] = {
    "registration": registration_row,
    "tax_monthly": tax_row,
    "tax_credit_grade": tax_grade_row,
    "social_insurance_monthly": social_insurance_row,
    "housing_fund_monthly": housing_fund_row,
    "utilities_monthly": utilities_row,
    "admin_records": admin_row,
    "judicial": judicial_row,
    "list_entries": list_entry_row,
    "commitments": commitment_row,
}


def write_csv(path: Path, columns: Iterable[str], rows: Iterable[Mapping[str, str]], encoding: str = "utf-8") -> Path:
    """Write rows as a CSV with the given header; cells missing from a row are written empty."""
    columns = list(columns)
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(name, "") for name in columns])
    return path


def write_region(
    raw_dir: Path,
    rows: Mapping[str, list[Row]] | None = None,
    *,
    extracted_on: str = EXTRACTED_ON,
    region: str = "testville",
    omit_files: Iterable[str] = (),
    omit_columns: Mapping[str, Iterable[str]] | None = None,
    feeds: Sequence[Mapping[str, object]] | None = None,
) -> Path:
    """Write a complete raw extract; ``rows`` per source replace the single default row of that source.

    ``feeds`` go into the manifest as declared; the caller writes those feeds' files itself.
    """
    raw_dir.mkdir(parents=True, exist_ok=True)
    rows = rows or {}
    omit_columns = omit_columns or {}
    manifest: dict[str, object] = {"region": region, "extracted_on": extracted_on, "seed": 7}
    if feeds:
        manifest["feeds"] = list(feeds)
        omit_files = [*omit_files, *(str(feed["source"]) for feed in feeds)]
    (raw_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    omitted = set(omit_files)
    for spec in SOURCES:
        if spec.name in omitted:
            continue
        source_rows = rows.get(spec.name, [DEFAULT_ROWS[spec.name]()])
        dropped = set(omit_columns.get(spec.name, ()))
        columns = [name for name in spec.column_names if name not in dropped]
        write_csv(raw_dir / spec.filename, columns, source_rows)
    return raw_dir


def filename(source: str) -> str:
    """The raw file name of a source."""
    return SOURCES_BY_NAME[source].filename
