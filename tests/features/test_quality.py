"""The data-quality report on a small hand-built ingest output, every figure worked out by hand.

The fixture (extracted 2026-03-05, a Thursday, just after the 2026 Spring Festival):

- registration: one 市场监管局 feed, read 10 = 8 accepted (one an earlier version) + 1 bad check character + 1 repeat.
- tax_monthly: two 税务局 feeds (6 and 3 rows) and one empty feed with no department (→ "unknown", zero rows).
- tax_credit_grade: one clean 税务局 feed of 2 rows.
- admin_records: departments on the rows; 12 accepted (one superseded), 2 quarantined, 1 repeat.
- judicial: departments in ``court``, one of them missing and one with markup in its name.
- commitments: a report with nothing read and no parquet files.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from features.quality import QualityReportError, build_quality_report, write_quality_report

NAT = None
MARKUP_COURT = "<b>二七区</b> 法院 & 庭"
TIMELY = "2026-03-05"


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")


def _write_parquet(path: Path, rows: list[dict[str, Any]], dates: tuple[str, ...] = ("_superseded_on",)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows)
    for column in dates:
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    frame.to_parquet(path, index=False)


def _report(source: str, read: int, accepted: int, quarantined: int, duplicates: int, corrections: int,
            by_rule: dict[str, int], files: list[dict[str, Any]]) -> dict[str, Any]:
    return {"source": source, "read": read, "accepted": accepted, "quarantined": quarantined,
            "duplicates": duplicates, "corrections": corrections, "by_rule": by_rule, "by_field": {},
            "uscc_warnings": 0, "files": files}


def _feed(path: str, department: str | None, read: int, accepted: int, quarantined: int,
          duplicates: int) -> dict[str, Any]:
    return {"path": path, "format": "csv", "encoding": "utf-8", "department": department, "read": read,
            "accepted": accepted, "quarantined": quarantined, "duplicates": duplicates}


def _quarantined(file: str, line: int, rule: str, **columns: str) -> dict[str, Any]:
    return {"uscc": "X", **columns, "_file": file, "_line": line, "_field": "uscc", "_rule": rule, "_message": "m"}


def _admin(record_id: str, kind: str, department: str | None, decided: str, published: str | None,
           superseded: str | None = NAT) -> dict[str, Any]:
    return {"record_id": record_id, "uscc": "91410100MA00000000", "kind": kind, "decision_date": decided,
            "published_on": published, "department": department, "severity": None, "amount": float("nan"),
            "status": None, "repaired_on": None, "available_on": decided, "_superseded_on": superseded,
            "_file": "raw/admin_records.csv"}


ADMIN_ROWS = [
    _admin("A1", "许可", "市场监管局", "2026-02-13", "2026-03-02"),  # deadline 03-02: on time
    _admin("A2", "处罚", "市场监管局", "2026-02-13", "2026-03-03"),  # late by 1 working day
    _admin("A3", "处罚", "生态环境局", "2026-02-12", None),  # deadline Sat 02-28 (调休) passed: missing, 4 overdue
    _admin("A4", "许可", "生态环境局", "2026-03-02", None),  # deadline 03-11: pending
    _admin("A5", "许可", "生态环境局", "2026-02-24", "2026-02-25"),  # on time
    _admin("A6", "处罚", "市场监管局", "2026-01-05", None, superseded="2026-01-08"),  # earlier version: ignored
    _admin("A6", "处罚", "市场监管局", "2026-01-05", "2026-01-08"),  # its correction: on time
    _admin("A7", "奖励", "市场监管局", "2026-01-10", None),  # not 双公示: ignored
    _admin("A8", "处罚", None, "2026-02-02", "2026-02-20"),  # deadline 02-11; late by 3 (12, 13, Sat 14)
    _admin("A9", "许可", "市场监管局", "2003-12-30", "2004-01-05"),  # before the calendar: unjudged
    _admin("A10", "许可", "自然资源局", "2026-03-04", "2026-03-05"),  # on time
    _admin("A11", "许可", "住建局", "2026-03-03", None),  # deadline 03-12: pending
]


@pytest.fixture
def ingest_dir(tmp_path: Path) -> Path:
    """The hand-built ingest output described in the module docstring."""
    out = tmp_path / "ingest"
    _write_json(out / "reports" / "summary.json", {"region": "410100", "extracted_on": TIMELY, "sources": []})

    reg_file = "raw/registration.csv"
    _write_json(out / "reports" / "registration.json", _report(
        "registration", 10, 8, 1, 1, 1, {"uscc.check_character": 1}, [_feed(reg_file, "市场监管局", 10, 8, 1, 1)]))
    _write_parquet(out / "accepted" / "registration.parquet",
                   [{"uscc": f"U{i}", "_superseded_on": "2026-01-02" if i == 0 else None, "_file": reg_file}
                    for i in range(8)])
    _write_parquet(out / "quarantine" / "registration.parquet",
                   [_quarantined(reg_file, 5, "uscc.check_character")], dates=())

    tax_a, tax_b, tax_empty = "raw/tax_a.csv", "raw/tax_b.xlsx", "raw/tax_empty.csv"
    _write_json(out / "reports" / "tax_monthly.json", _report(
        "tax_monthly", 9, 7, 2, 0, 0, {"uscc.unregistered": 1, "duplicate.conflict": 1},
        [_feed(tax_a, "税务局", 6, 4, 2, 0), _feed(tax_b, "税务局", 3, 3, 0, 0), _feed(tax_empty, None, 0, 0, 0, 0)]))
    _write_parquet(out / "accepted" / "tax_monthly.parquet",
                   [{"uscc": "U", "_superseded_on": None, "_file": f} for f in [tax_a] * 4 + [tax_b] * 3])
    _write_parquet(out / "quarantine" / "tax_monthly.parquet",
                   [_quarantined(tax_a, 2, "uscc.unregistered"), _quarantined(tax_a, 3, "duplicate.conflict")],
                   dates=())

    grade_file = "raw/tax_credit_grade.csv"
    _write_json(out / "reports" / "tax_credit_grade.json", _report(
        "tax_credit_grade", 2, 2, 0, 0, 0, {}, [_feed(grade_file, "税务局", 2, 2, 0, 0)]))
    _write_parquet(out / "accepted" / "tax_credit_grade.parquet",
                   [{"uscc": "U", "_superseded_on": None, "_file": grade_file}] * 2)

    admin_file = "raw/admin_records.csv"
    _write_json(out / "reports" / "admin_records.json", _report(
        "admin_records", 15, 12, 2, 1, 1, {"uscc.length": 1, "date.order": 1}, [_feed(admin_file, None, 15, 12, 2, 1)]))
    _write_parquet(out / "accepted" / "admin_records.parquet", ADMIN_ROWS,
                   dates=("decision_date", "published_on", "repaired_on", "available_on", "_superseded_on"))
    _write_parquet(out / "quarantine" / "admin_records.parquet",
                   [_quarantined(admin_file, 7, "date.order", department="市场监管局"),
                    _quarantined(admin_file, 9, "uscc.length", department="应急管理局")], dates=())

    judicial_file = "raw/judicial.csv"
    _write_json(out / "reports" / "judicial.json", _report(
        "judicial", 2, 2, 0, 0, 0, {}, [_feed(judicial_file, "高级人民法院", 2, 2, 0, 0)]))
    _write_parquet(out / "accepted" / "judicial.parquet",
                   [{"case_id": "C1", "court": MARKUP_COURT, "_superseded_on": None, "_file": judicial_file},
                    {"case_id": "C2", "court": None, "_superseded_on": None, "_file": judicial_file}])

    _write_json(out / "reports" / "commitments.json", _report("commitments", 0, 0, 0, 0, 0, {}, []))
    return out


def _measures(read: int, accepted: int, quarantined: int, duplicates: int | None, corrections: int,
              qualified_rate: float | None, uscc_wrong: int, uscc_wrong_rate: float | None,
              uscc_ok: bool | None, unregistered: int, duplicate_rate: float | None, duplicate_ok: bool | None,
              by_rule: dict[str, int]) -> dict[str, Any]:
    return {"read": read, "accepted": accepted, "quarantined": quarantined, "duplicates": duplicates,
            "corrections": corrections, "qualified_rate": qualified_rate, "uscc_wrong": uscc_wrong,
            "uscc_wrong_rate": uscc_wrong_rate, "uscc_wrong_meets_target": uscc_ok,
            "uscc_unregistered": unregistered, "duplicate_rate": duplicate_rate, "duplicate_meets_target": duplicate_ok,
            "by_rule": by_rule}


def _on_time(records: int, on_time: int, late: int, missing: int, pending: int, unjudged: int,
             rate: float | None, meets: bool | None, cleared: bool) -> dict[str, Any]:
    return {"records": records, "on_time": on_time, "late": late, "missing": missing, "pending": pending,
            "unjudged": unjudged, "on_time_rate": rate, "on_time_meets_target": meets, "cleared": cleared}


EXPECTED_SOURCES = [
    {"source": "registration",
     **_measures(10, 8, 1, 1, 1, 8 / 9, 1, 1 / 10, False, 0, 1 / 10, False, {"uscc.check_character": 1}),
     "departments": [{"department": "市场监管局", **_measures(10, 8, 1, 1, 1, 8 / 9, 1, 1 / 10, False, 0, 1 / 10,
                                                        False, {"uscc.check_character": 1})}]},
    {"source": "tax_monthly",
     **_measures(9, 7, 2, 0, 0, 7 / 9, 0, 0.0, True, 1, 1 / 9, False,
                 {"uscc.unregistered": 1, "duplicate.conflict": 1}),
     "departments": [
         {"department": "税务局", **_measures(9, 7, 2, 0, 0, 7 / 9, 0, 0.0, True, 1, 1 / 9, False,
                                          {"uscc.unregistered": 1, "duplicate.conflict": 1})},
         {"department": "unknown", **_measures(0, 0, 0, 0, 0, None, 0, None, None, 0, None, None, {})},
     ]},
    {"source": "tax_credit_grade",
     **_measures(2, 2, 0, 0, 0, 1.0, 0, 0.0, True, 0, 0.0, True, {}),
     "departments": [{"department": "税务局", **_measures(2, 2, 0, 0, 0, 1.0, 0, 0.0, True, 0, 0.0, True, {})}]},
    {"source": "admin_records",
     **_measures(15, 12, 2, 1, 1, 12 / 14, 1, 1 / 15, False, 0, 1 / 15, False, {"uscc.length": 1, "date.order": 1}),
     "departments": [  # repeats are dropped before the row's department is read: duplicates not attributable
         {"department": "住建局", **_measures(1, 1, 0, None, 0, 1.0, 0, 0.0, True, 0, None, None, {})},
         {"department": "市场监管局", **_measures(7, 6, 1, None, 1, 6 / 7, 0, 0.0, True, 0, None, None,
                                            {"date.order": 1})},
         {"department": "应急管理局", **_measures(1, 0, 1, None, 0, 0.0, 1, 1.0, False, 0, None, None,
                                            {"uscc.length": 1})},
         {"department": "生态环境局", **_measures(3, 3, 0, None, 0, 1.0, 0, 0.0, True, 0, None, None, {})},
         {"department": "自然资源局", **_measures(1, 1, 0, None, 0, 1.0, 0, 0.0, True, 0, None, None, {})},
         {"department": "unknown", **_measures(1, 1, 0, None, 0, 1.0, 0, 0.0, True, 0, None, None, {})},
     ]},
    {"source": "judicial",
     **_measures(2, 2, 0, 0, 0, 1.0, 0, 0.0, True, 0, 0.0, True, {}),
     "departments": [  # from the rows' court, not the feed's department
         {"department": MARKUP_COURT, **_measures(1, 1, 0, None, 0, 1.0, 0, 0.0, True, 0, None, None, {})},
         {"department": "unknown", **_measures(1, 1, 0, None, 0, 1.0, 0, 0.0, True, 0, None, None, {})},
     ]},
    {"source": "commitments", **_measures(0, 0, 0, 0, 0, None, 0, None, None, 0, None, None, {}), "departments": []},
]

EXPECTED_TIMELINESS = {
    "working_days": 7,
    "kinds": ["许可", "处罚"],
    "overall": _on_time(10, 4, 2, 1, 2, 1, 4 / 7, False, False),
    "by_department": [
        {"department": "住建局", **_on_time(1, 0, 0, 0, 1, 0, None, None, True)},
        {"department": "市场监管局", **_on_time(4, 2, 1, 0, 0, 1, 2 / 3, False, False)},
        {"department": "生态环境局", **_on_time(3, 1, 0, 1, 1, 0, 1 / 2, False, False)},
        {"department": "自然资源局", **_on_time(1, 1, 0, 0, 0, 0, 1.0, True, True)},
        {"department": "unknown", **_on_time(1, 0, 1, 0, 0, 0, 0.0, False, False)},
    ],
    "by_kind": [
        {"kind": "许可", **_on_time(6, 3, 0, 0, 2, 1, 1.0, True, True)},
        {"kind": "处罚", **_on_time(4, 1, 2, 1, 0, 0, 1 / 4, False, False)},
    ],
    "late_records": [
        {"record_id": "A8", "kind": "处罚", "department": "unknown", "decision_date": "2026-02-02",
         "deadline": "2026-02-11", "published_on": "2026-02-20", "working_days_late": 3},
        {"record_id": "A2", "kind": "处罚", "department": "市场监管局", "decision_date": "2026-02-13",
         "deadline": "2026-03-02", "published_on": "2026-03-03", "working_days_late": 1},
    ],
    "missing_records": [
        {"record_id": "A3", "kind": "处罚", "department": "生态环境局", "decision_date": "2026-02-12",
         "deadline": "2026-02-28", "working_days_overdue": 4},
    ],
}


def test_report_matches_the_hand_computed_figures(ingest_dir: Path) -> None:
    report = build_quality_report(ingest_dir)
    assert list(report) == ["region", "extracted_on", "targets", "total", "sources", "timeliness"]
    assert (report["region"], report["extracted_on"]) == ("410100", TIMELY)
    assert report["targets"] == {"uscc_wrong_rate_max": 0.0001, "duplicate_rate_max": 0.0001, "on_time_rate": 1.0,
                                 "late": 0, "missing": 0, "publication_working_days": 7}
    assert report["sources"] == EXPECTED_SOURCES
    assert report["total"] == _measures(
        38, 31, 5, 2, 2, 31 / 36, 2, 2 / 38, False, 1, 3 / 38, False,
        {"uscc.length": 1, "uscc.check_character": 1, "uscc.unregistered": 1, "date.order": 1,
         "duplicate.conflict": 1})
    assert list(report["total"]["by_rule"]) == ["uscc.length", "uscc.check_character", "uscc.unregistered",
                                                "date.order", "duplicate.conflict"]  # the rules' check order
    assert report["timeliness"] == EXPECTED_TIMELINESS


def test_late_and_missing_lists_are_capped_oldest_first(ingest_dir: Path) -> None:
    timeliness = build_quality_report(ingest_dir, max_listed=1)["timeliness"]
    assert [r["record_id"] for r in timeliness["late_records"]] == ["A8"]
    assert timeliness["overall"]["late"] == 2


def test_no_admin_records_gives_empty_timeliness(ingest_dir: Path) -> None:
    for folder, suffix in (("accepted", "parquet"), ("quarantine", "parquet"), ("reports", "json")):
        (ingest_dir / folder / f"admin_records.{suffix}").unlink()
    timeliness = build_quality_report(ingest_dir)["timeliness"]
    assert timeliness["overall"] == _on_time(0, 0, 0, 0, 0, 0, None, None, True)
    assert timeliness["by_department"] == [] and timeliness["late_records"] == []


def test_missing_summary_is_a_clear_error(ingest_dir: Path) -> None:
    (ingest_dir / "reports" / "summary.json").unlink()
    with pytest.raises(QualityReportError, match=r"summary\.json"):
        build_quality_report(ingest_dir)


class _PageReader(HTMLParser):
    """Checks that every opened element is closed in order, and collects the page's text."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)  # <rect ... />: opened and closed at once

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_written_files_hold_the_report_and_a_self_contained_page(ingest_dir: Path) -> None:
    json_path, html_path = write_quality_report(ingest_dir)
    assert (json_path, html_path) == (ingest_dir / "reports" / "quality.json", ingest_dir / "reports" / "quality.html")
    assert json.loads(json_path.read_text(encoding="utf-8")) == build_quality_report(ingest_dir)
    page = html_path.read_text(encoding="utf-8")
    reader = _PageReader()
    reader.feed(page)
    reader.close()
    assert reader.open == []
    text = " ".join(reader.text)
    for figure in ("88.89 %", "57.14 %", "66.67 %", "10.000 %", "0.000 %", "未达标 fail", "达标 pass",
                   "A8", "A2", "A3", "2026-02-28", "生态环境局", "410100", "2026-03-05"):
        assert figure in text, figure
    assert MARKUP_COURT in text  # shown as text ...
    assert "<b>二七区</b>" not in page  # ... because it was escaped
    assert {"svg", "rect", "table", "style"} <= set(reader.tags)
    assert "script" not in reader.tags and "src=" not in page and "href=" not in page
