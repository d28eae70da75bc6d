"""Data-quality report (数据质量报告) of one ingest output, per source and per providing department.

Measures follow the seeds: qualified rate (合格率), USCC wrong and duplicate rates against ≤ 0.01 % (001 (四)), and
双公示 timeliness of licences and penalties: published within 7 working days, target 100 % on time and zero late
or missing ("双清零", 001 (一)). Reads ``accepted/``, ``quarantine/`` and ``reports/`` of the ingest directory and
writes ``reports/quality.json`` and ``reports/quality.html``; docs/data-quality.md explains every figure.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from features.calendar import PUBLICATION_WORKING_DAYS, publication_deadline, working_days_between
from features.quality_html import render_quality_html
from features.schemas import RULE_ORDER, SOURCES, USCC_WRONG_RULES

logger = logging.getLogger(__name__)

MAX_USCC_WRONG_RATE = 0.0001  # 统一社会信用代码错误率 ≤ 0.01 %
MAX_DUPLICATE_RATE = 0.0001  # 重复率 ≤ 0.01 %
ON_TIME_TARGET = 1.0  # 双公示 及时率 100 %
TIMELY_KINDS = ("许可", "处罚")  # 双公示: administrative licences and penalties
DUPLICATE_CONFLICT_RULE = "duplicate.conflict"
UNREGISTERED_RULE = "uscc.unregistered"
UNKNOWN_DEPARTMENT = "unknown"
# Sources whose rows name their department; the others take the department of the feed file they came in.
DEPARTMENT_COLUMNS = {"admin_records": "department", "judicial": "court", "list_entries": "department",
                      "commitments": "department"}
_NOT_SOURCES = {"summary", "quality"}


class QualityReportError(Exception):
    """The ingest directory lacks what the report needs (reports/summary.json, a readable source report)."""


@dataclass(frozen=True)
class QualityCounts:
    """Row counts of one source or one (source, department); ``duplicates`` is None when not attributable."""

    read: int
    accepted: int
    quarantined: int
    duplicates: int | None
    corrections: int
    by_rule: Mapping[str, int] = field(default_factory=dict)

    def __add__(self, other: QualityCounts) -> QualityCounts:
        rules = Counter(self.by_rule) + Counter(other.by_rule)
        duplicates = None if self.duplicates is None or other.duplicates is None else self.duplicates + other.duplicates
        return QualityCounts(self.read + other.read, self.accepted + other.accepted,
                             self.quarantined + other.quarantined, duplicates,
                             self.corrections + other.corrections, rules)


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _at_most(rate: float | None, target: float) -> bool | None:
    return None if rate is None else rate <= target


def _ordered_rules(by_rule: Mapping[str, int]) -> dict[str, int]:
    known = [rule for rule in RULE_ORDER if by_rule.get(rule)]
    return {rule: int(by_rule[rule]) for rule in known + sorted(set(by_rule) - set(known)) if by_rule[rule]}


def quality_measures(counts: QualityCounts) -> dict[str, Any]:
    """The seeds' measures of one set of counts; a rate over zero rows is None, never a division by zero."""
    uscc_wrong = sum(counts.by_rule.get(rule, 0) for rule in USCC_WRONG_RULES)
    conflicts = counts.by_rule.get(DUPLICATE_CONFLICT_RULE, 0)
    duplicate_rate = None if counts.duplicates is None else _rate(counts.duplicates + conflicts, counts.read)
    uscc_wrong_rate = _rate(uscc_wrong, counts.read)
    return {
        "read": counts.read,
        "accepted": counts.accepted,
        "quarantined": counts.quarantined,
        "duplicates": counts.duplicates,
        "corrections": counts.corrections,
        "qualified_rate": _rate(counts.accepted, counts.read - (counts.duplicates or 0)),
        "uscc_wrong": uscc_wrong,
        "uscc_wrong_rate": uscc_wrong_rate,
        "uscc_wrong_meets_target": _at_most(uscc_wrong_rate, MAX_USCC_WRONG_RATE),
        "uscc_unregistered": counts.by_rule.get(UNREGISTERED_RULE, 0),
        "duplicate_rate": duplicate_rate,
        "duplicate_meets_target": _at_most(duplicate_rate, MAX_DUPLICATE_RATE),
        "by_rule": _ordered_rules(counts.by_rule),
    }


def _read_json(path: Path) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise QualityReportError(f"{path}: cannot read the ingest report ({exc!r})") from exc
    return loaded


def _read_table(path: Path, wanted: tuple[str, ...], dictionary: tuple[str, ...] = ()) -> pa.Table:
    """The ``wanted`` columns of a Parquet output (one file, or a folder of parts), absent columns as nulls and an
    absent output as no rows; ``dictionary`` columns are read dictionary-encoded (cheap to count)."""
    if not path.exists():
        return pa.table({name: pa.array([], pa.null()) for name in wanted})
    names = set(ds.dataset(path, format="parquet").schema.names)
    present = [name for name in wanted if name in names]
    table = pq.read_table(path, columns=present, read_dictionary=[n for n in dictionary if n in present])
    for name in wanted:
        if name not in names:
            table = table.append_column(name, pa.nulls(table.num_rows))
    return table.select(list(wanted))


def _count_rows(table: pa.Table, keys: list[str]) -> Counter[tuple[Any, ...]]:
    """Rows per distinct value of ``keys`` (Arrow's hash group-by: no Python object per row)."""
    if table.num_rows == 0:
        return Counter()
    plain = pa.table({name: _decoded(table.column(name)) for name in keys})
    grouped = plain.group_by(keys).aggregate([([], "count_all")]).to_pydict()
    return Counter({tuple(grouped[name][i] for name in keys): n for i, n in enumerate(grouped["count_all"])})


def _decoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    if pa.types.is_null(column.type):
        return column.cast(pa.string())
    return column


def _department_name(value: Any) -> str:
    name = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).strip()
    return name or UNKNOWN_DEPARTMENT


def _department_names(values: pd.Series) -> pd.Series:
    names = values.astype("string").str.strip()
    return names.mask(names == "").fillna(UNKNOWN_DEPARTMENT).astype(object)


def _ordered_departments(names: set[str]) -> list[str]:
    return sorted(names - {UNKNOWN_DEPARTMENT}) + ([UNKNOWN_DEPARTMENT] if UNKNOWN_DEPARTMENT in names else [])


@dataclass(frozen=True)
class _RowCounts:
    """Accepted rows, superseded rows and quarantined rows by rule, per key value (a department or a file)."""

    accepted: Counter[Any]
    superseded: Counter[Any]
    quarantined: Counter[tuple[Any, str]]

    @classmethod
    def read(cls, ingest_dir: Path, source: str, key: str) -> _RowCounts:
        accepted = _read_table(ingest_dir / "accepted" / f"{source}.parquet", (key, "_superseded_on"), (key,))
        superseded = accepted.filter(pc.is_valid(accepted.column("_superseded_on")))
        quarantine = _read_table(ingest_dir / "quarantine" / f"{source}.parquet", (key, "_rule"), (key,))
        return cls(Counter({k[0]: n for k, n in _count_rows(accepted, [key]).items()}),
                   Counter({k[0]: n for k, n in _count_rows(superseded, [key]).items()}),
                   Counter({(k[0], str(k[1])): n for k, n in _count_rows(quarantine, [key, "_rule"]).items()}))


def _department_counts(source: str, report: Mapping[str, Any], rows: _RowCounts) -> dict[str, QualityCounts]:
    """Counts per providing department: from the rows' own column, or from the feed file each row came in."""
    column = DEPARTMENT_COLUMNS.get(source)
    files = report.get("files") or []
    file_department = {str(f.get("path")): f.get("department") for f in files}
    if column is not None:
        department_of = _department_name
    else:
        unlisted = ({str(k) for k in rows.accepted} | {str(k) for k, _ in rows.quarantined}) - set(file_department)
        if unlisted:
            logger.warning("%s: rows from feeds the report does not list, counted as unknown: %s", source,
                           sorted(unlisted)[:5])

        def department_of(value: Any) -> str:
            return _department_name(file_department.get(str(value)))
    n_accepted: Counter[str] = Counter()
    corrections: Counter[str] = Counter()
    n_quarantined: Counter[str] = Counter()
    rules: dict[str, Counter[str]] = {}
    for value, n in rows.accepted.items():
        n_accepted[department_of(value)] += n
    for value, n in rows.superseded.items():
        corrections[department_of(value)] += n
    for (value, rule), n in rows.quarantined.items():
        name = department_of(value)
        n_quarantined[name] += n
        rules.setdefault(name, Counter())[rule] += n
    totals: dict[str, tuple[int, int, int, int | None]] = {}
    if column is None:  # the feed files' own counts, so that read = accepted + quarantined + duplicates holds
        for f in files:
            name = _department_name(f.get("department"))
            read, accepted_n, quarantined_n, duplicates = totals.get(name, (0, 0, 0, 0))
            totals[name] = (read + int(f.get("read") or 0), accepted_n + int(f.get("accepted") or 0),
                            quarantined_n + int(f.get("quarantined") or 0),
                            (duplicates or 0) + int(f.get("duplicates") or 0))
    # Departments on the rows (and rows from a feed the report does not list): exact repeats were dropped before
    # their department was read, so they cannot be attributed.
    for name in (set(n_accepted) | set(n_quarantined)) - set(totals):
        a, q = n_accepted.get(name, 0), n_quarantined.get(name, 0)
        totals[name] = (a + q, a, q, None)
    return {name: QualityCounts(*totals[name], corrections=corrections.get(name, 0),
                                by_rule=dict(rules.get(name, {})))
            for name in _ordered_departments(set(totals))}


def _source_names(reports_dir: Path) -> list[str]:
    found = {path.stem for path in reports_dir.glob("*.json")} - _NOT_SOURCES
    known = [spec.name for spec in SOURCES if spec.name in found]
    return known + sorted(found - set(known))


def _source_quality(ingest_dir: Path, source: str) -> tuple[QualityCounts, dict[str, Any]]:
    report = _read_json(ingest_dir / "reports" / f"{source}.json")
    rows = _RowCounts.read(ingest_dir, source, DEPARTMENT_COLUMNS.get(source, "_file"))
    if (sum(rows.accepted.values()) != int(report.get("accepted", 0))
            or sum(rows.quarantined.values()) != int(report.get("quarantined", 0))):
        logger.warning("%s: report counts differ from the rows in accepted/ and quarantine/", source)
    counts = QualityCounts(int(report.get("read", 0)), int(report.get("accepted", 0)),
                           int(report.get("quarantined", 0)), int(report.get("duplicates", 0)),
                           int(report.get("corrections", 0)), dict(report.get("by_rule") or {}))
    departments = _department_counts(source, report, rows)
    return counts, {
        "source": source,
        **quality_measures(counts),
        "departments": [{"department": name, **quality_measures(c)} for name, c in departments.items()],
    }


_DATE_COLUMNS = ("decision_date", "deadline", "published_on")


def _iso(value: Any) -> str | None:
    return None if pd.isna(value) else pd.Timestamp(value).date().isoformat()


def _working_days(value: float) -> int | None:
    return None if np.isnan(value) else int(value)


def _timeliness_counts(status: pd.Series) -> dict[str, Any]:
    n = {name: int((status == name).sum()) for name in ("on_time", "late", "missing", "pending", "unjudged")}
    on_time_rate = _rate(n["on_time"], n["on_time"] + n["late"] + n["missing"])
    return {"records": len(status), **n, "on_time_rate": on_time_rate,
            "on_time_meets_target": None if on_time_rate is None else on_time_rate >= ON_TIME_TARGET,
            "cleared": n["late"] == 0 and n["missing"] == 0}


_CHASED_COLUMNS = ("record_id", "kind", "department", "decision_date", "deadline", "published_on")


def _chase_list(records: pd.DataFrame, overdue: np.ndarray, overdue_name: str) -> list[dict[str, Any]]:
    """Late or missing records for an operator to chase: ids, dates and working days overdue."""
    columns = [name for name in _CHASED_COLUMNS if name in records]
    return [{**{str(name): _iso(value) if name in _DATE_COLUMNS else str(value) for name, value in row.items()},
             overdue_name: _working_days(days)}
            for row, days in zip(records[columns].to_dict("records"), overdue, strict=True)]


def publication_timeliness(admin_records: pd.DataFrame, extracted_on: date, max_listed: int = 50) -> dict[str, Any]:
    """双公示 timeliness of the current 许可 and 处罚 records, overall, by department and by kind.

    on_time: published by the 7th working day after the decision; late: published after it; missing: not
    published and the deadline passed before ``extracted_on``; pending: not yet due; unjudged: the calendar does
    not cover the deadline. The on-time rate counts on_time over on_time + late + missing.
    """
    current = admin_records[admin_records["_superseded_on"].isna() & admin_records["kind"].isin(TIMELY_KINDS)]
    current = current.sort_values(["decision_date", "record_id"], kind="stable")
    deadline = (publication_deadline(current["decision_date"], errors="coerce") if len(current)  # no records:
                else pd.Series(pd.NaT, index=current.index, dtype="datetime64[ns]"))  # no calendar to load
    current = current.assign(department=_department_names(current["department"]),
                             published_on=current["published_on"].dt.normalize(), deadline=deadline)
    published, deadline, cutoff = current["published_on"], current["deadline"], pd.Timestamp(extracted_on)
    status = pd.Series(np.select(
        [deadline.isna(), published.notna() & (published <= deadline), published.notna(), deadline < cutoff],
        ["unjudged", "on_time", "late", "missing"], "pending"), index=current.index)
    late = current[status == "late"].head(max_listed)
    missing = current[status == "missing"].drop(columns="published_on").head(max_listed)
    return {
        "working_days": PUBLICATION_WORKING_DAYS,
        "kinds": list(TIMELY_KINDS),
        "overall": _timeliness_counts(status),
        "by_department": [{"department": name, **_timeliness_counts(status[current["department"] == name])}
                          for name in _ordered_departments(set(current["department"]))],
        "by_kind": [{"kind": kind, **_timeliness_counts(status[current["kind"] == kind])} for kind in TIMELY_KINDS],
        "late_records": _chase_list(
            late, working_days_between(late["deadline"], late["published_on"], errors="coerce"), "working_days_late"),
        "missing_records": _chase_list(
            missing, working_days_between(missing["deadline"], cutoff, errors="coerce"), "working_days_overdue"),
    }


_ADMIN_COLUMNS = ("record_id", "kind", "decision_date", "published_on", "department", "_superseded_on")


def _current_timely(admin: pa.Table) -> pd.DataFrame:
    """The current 许可 and 处罚 records, filtered in Arrow before they become a DataFrame."""
    kinds = _decoded(admin.column("kind"))
    keep = pc.and_(pc.is_null(admin.column("_superseded_on")),
                   pc.is_in(kinds, value_set=pa.array(TIMELY_KINDS, kinds.type)))
    return admin.filter(pc.fill_null(keep, False)).to_pandas()


def build_quality_report(ingest_dir: str | Path, *, max_listed: int = 50) -> dict[str, Any]:
    """The data-quality report of one ingest output as a JSON-ready dict with a stable key order."""
    ingest_dir = Path(ingest_dir)
    summary = _read_json(ingest_dir / "reports" / "summary.json")
    try:
        extracted_on = date.fromisoformat(str(summary["extracted_on"]))
    except (KeyError, ValueError) as exc:
        raise QualityReportError(f"{ingest_dir}/reports/summary.json: extracted_on must be YYYY-MM-DD") from exc
    sources, total = [], QualityCounts(0, 0, 0, 0, 0)
    for source in _source_names(ingest_dir / "reports"):
        counts, measures = _source_quality(ingest_dir, source)
        sources.append(measures)
        total += counts
    admin = _current_timely(_read_table(ingest_dir / "accepted" / "admin_records.parquet", _ADMIN_COLUMNS))
    admin = admin.astype({name: "datetime64[ns]" for name in ("decision_date", "published_on", "_superseded_on")})
    return {
        "region": summary.get("region"),
        "extracted_on": extracted_on.isoformat(),
        "targets": {"uscc_wrong_rate_max": MAX_USCC_WRONG_RATE, "duplicate_rate_max": MAX_DUPLICATE_RATE,
                    "on_time_rate": ON_TIME_TARGET, "late": 0, "missing": 0,
                    "publication_working_days": PUBLICATION_WORKING_DAYS},
        "total": quality_measures(total),
        "sources": sources,
        "timeliness": publication_timeliness(admin, extracted_on, max_listed),
    }


def write_quality_report(ingest_dir: str | Path, *, max_listed: int = 50) -> tuple[Path, Path]:
    """Write ``reports/quality.json`` and the self-contained ``reports/quality.html``; return both paths."""
    ingest_dir = Path(ingest_dir)
    report = build_quality_report(ingest_dir, max_listed=max_listed)
    json_path, html_path = ingest_dir / "reports" / "quality.json", ingest_dir / "reports" / "quality.html"
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    html_path.write_text(render_quality_html(report), encoding="utf-8")
    return json_path, html_path
