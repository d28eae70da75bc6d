"""Synthetic accepted tables at bench scale for ``bench/profile_build.py``: typed as ingest writes them.

Written straight in the accepted layout (every canonical column, ``_superseded_on``, ``_file``, ``_line``; parts
of ingest's chunk size, bucketed by USCC hash as ingest writes them), a block of enterprises at a time so memory
stays small: registration, 36 months of tax, 30 of social insurance, 24 of electricity (and 12 of water for a
third), housing fund for 40 %, yearly tax grades, and event records.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from features.feeds import DEFAULT_CHUNK_ROWS
from features.ingest_versions import accepted_schema, write_part
from features.schemas import SOURCES_BY_NAME
from features.uscc import make_uscc

LAST_MONTH = np.datetime64("2026-09", "M")


def _months(n: int) -> np.ndarray:
    return np.arange(LAST_MONTH - n + 1, LAST_MONTH + 1)


def _ns(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype("datetime64[ns]"))


def _table(source: str, columns: dict[str, object], rows: int) -> pa.Table:
    schema = accepted_schema(SOURCES_BY_NAME[source])
    arrays = []
    for field in schema:
        value = columns.get(field.name)
        if field.name == "_file":
            value = pa.array(np.full(rows, f"{source}.csv", dtype=object))
        elif field.name == "_line":
            value = pa.array(np.arange(2, rows + 2, dtype=np.int64))
        elif value is None:
            value = pa.nulls(rows, field.type)
        arrays.append(value if isinstance(value, pa.Array) else pa.array(value, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _monthly(codes: np.ndarray, months: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    n = len(codes) * len(months)
    return np.repeat(codes, len(months)), np.tile(months, len(codes)), n


def block(first: int, count: int, seed: int) -> dict[str, pa.Table]:
    """All sources for enterprises ``first`` … ``first + count − 1``."""
    rng = np.random.default_rng(seed + first)
    codes = np.array([make_uscc("9", "1", "410102", f"{i:08d}") for i in range(first, first + count)], dtype=object)
    founded = np.datetime64("2021-01-01") - rng.integers(0, 8000, count).astype("timedelta64[D]")
    out: dict[str, pa.Table] = {}
    out["registration"] = _table("registration", {
        "uscc": codes, "name": np.full(count, "企业", dtype=object), "founded_on": _ns(founded),
        "industry": rng.choice(np.array(["C13", "F51", "E47", "I65", "M74"], dtype=object), count),
        "region_code": np.full(count, "410102", dtype=object),
        "registered_capital": rng.lognormal(13.5, 1.2, count).round(0),
        "enterprise_type": np.full(count, "有限责任公司", dtype=object),
        "size_class": rng.choice(np.array(["微", "小", "中"], dtype=object), count),
        "status": np.full(count, "存续", dtype=object), "available_on": _ns(founded + np.timedelta64(7, "D")),
    }, count)
    uscc, month, n = _monthly(codes, _months(36), rng)
    period = month.astype("datetime64[D]")
    filed = (month + 1).astype("datetime64[D]") + rng.integers(0, 25, n).astype("timedelta64[D]")
    sales = rng.gamma(2.0, 60000.0, n).round(2)
    out["tax_monthly"] = _table("tax_monthly", {
        "uscc": uscc, "period": _ns(period), "vat": (sales * 0.03).round(2), "cit": (sales * 0.01).round(2),
        "invoiced_sales": sales, "overdue_tax": np.where(rng.random(n) < 0.03, rng.gamma(2, 3000, n), 0.0).round(2),
        "filed_on": _ns(filed)}, n)
    for source, months, share, headcount in (("social_insurance_monthly", 30, 1.0, "insured_headcount"),
                                             ("housing_fund_monthly", 24, 0.4, "contributors")):
        who = codes[rng.random(count) < share]
        uscc, month, n = _monthly(who, _months(months), rng)
        due = rng.gamma(2, 4000, n).round(2)
        arrears = np.where(rng.random(n) < 0.05, due * 0.5, 0.0).round(2)
        out[source] = _table(source, {
            "uscc": uscc, "period": _ns(month.astype("datetime64[D]")), headcount: rng.integers(1, 50, n).astype(float),
            "contribution_due": due, "contribution_paid": due - arrears, "arrears": arrears,
            "available_on": _ns((month + 1).astype("datetime64[D]") + np.timedelta64(9, "D"))}, n)
    power_u, power_m, pn = _monthly(codes, _months(24), rng)
    water_u, water_m, wn = _monthly(codes[rng.random(count) < 0.33], _months(12), rng)
    uscc = np.concatenate([power_u, water_u])
    month = np.concatenate([power_m, water_m])
    n = pn + wn
    billed = rng.gamma(2, 900, n).round(2)
    late = np.where(rng.random(n) < 0.04, rng.integers(1, 90, n), 0).astype(float)
    out["utilities_monthly"] = _table("utilities_monthly", {
        "uscc": uscc, "period": _ns(month.astype("datetime64[D]")),
        "kind": np.concatenate([np.full(pn, "electricity", dtype=object), np.full(wn, "water", dtype=object)]),
        "quantity": rng.gamma(2, 5000, n).round(1), "amount_billed": billed,
        "amount_paid": np.where(late > 60, billed * 0.5, billed).round(2), "days_late": late,
        "available_on": _ns((month + 1).astype("datetime64[D]") + np.timedelta64(5, "D"))}, n)
    years = np.array(["2023", "2024", "2025"], dtype="datetime64[Y]")
    uscc, year, n = np.repeat(codes, 3), np.tile(years, count), count * 3
    evaluated = (year + 1).astype("datetime64[D]") + np.timedelta64(100, "D")
    out["tax_credit_grade"] = _table("tax_credit_grade", {
        "uscc": uscc, "year": _ns(year.astype("datetime64[D]")),
        "grade": rng.choice(np.array(["A", "B", "M", "C", "D"], dtype=object), n, p=[.3, .4, .2, .07, .03]),
        "evaluated_on": _ns(evaluated), "available_on": _ns(evaluated + np.timedelta64(3, "D"))}, n)
    out.update(_events(codes, rng))
    return out


def _events(codes: np.ndarray, rng: np.random.Generator) -> dict[str, pa.Table]:
    count = len(codes)
    n = count
    who = rng.choice(codes, n)
    decided = np.datetime64("2026-09-30") - rng.integers(0, 1500, n).astype("timedelta64[D]")
    kind = rng.choice(np.array(["许可", "处罚", "奖励", "监督检查", "强制"], dtype=object), n, p=[.5, .25, .1, .1, .05])
    penalty = kind == "处罚"
    out = {"admin_records": _table("admin_records", {
        "uscc": who, "record_id": np.array([f"AR{i}" for i in range(n)], dtype=object), "kind": kind,
        "decision_date": _ns(decided), "published_on": _ns(decided + np.timedelta64(3, "D")),
        "department": np.full(n, "市场监督管理局", dtype=object),
        "severity": np.where(penalty, rng.choice(np.array(["轻微", "一般", "严重"], dtype=object), n), None),
        "amount": np.where(penalty, rng.gamma(2, 5000, n).round(0), np.nan),
        "status": np.where(penalty, "有效", None), "available_on": _ns(decided + np.timedelta64(5, "D"))}, n)}
    for source, ids, start, end, kinds, extra in (
            ("judicial", "case_id", "listed_on", "removed_on", ("kind", ["失信被执行人", "被执行人"]), "amount"),
            ("list_entries", "entry_id", "entered_on", "exited_on", ("list_name", ["abnormal", "black", "red"]), None)):
        m = count // 5
        who = rng.choice(codes, m)
        began = np.datetime64("2026-09-30") - rng.integers(0, 1500, m).astype("timedelta64[D]")
        ended = began + rng.integers(30, 900, m).astype("timedelta64[D]")
        columns: dict[str, object] = {
            "uscc": who, ids: np.array([f"{ids[0]}{i}" for i in range(m)], dtype=object),
            kinds[0]: rng.choice(np.array(kinds[1], dtype=object), m), start: _ns(began),
            end: pa.array(np.where(rng.random(m) < 0.5, ended, np.datetime64("NaT")).astype("datetime64[ns]")),
            "available_on": _ns(began + np.timedelta64(2, "D"))}
        if extra:
            columns[extra] = rng.gamma(2, 20000, m).round(0)
        out[source] = _table(source, columns, m)
    m = count // 2
    committed = np.datetime64("2026-09-30") - rng.integers(0, 1500, m).astype("timedelta64[D]")
    fulfilment = rng.choice(np.array(["kept", "broken", "pending"], dtype=object), m, p=[.7, .1, .2])
    out["commitments"] = _table("commitments", {
        "uscc": rng.choice(codes, m), "commitment_id": np.array([f"CM{i}" for i in range(m)], dtype=object),
        "kind": np.full(m, "告知承诺", dtype=object), "committed_on": _ns(committed), "fulfilment": fulfilment,
        "resolved_on": pa.array(np.where(fulfilment == "pending", np.datetime64("NaT"),
                                         committed + np.timedelta64(180, "D")).astype("datetime64[ns]")),
        "available_on": _ns(committed + np.timedelta64(1, "D"))}, m)
    return out


def write_accepted(ingest_dir: Path, enterprises: int, buckets: int = 1, block_size: int = 100_000,
                   seed: int = 7) -> dict[str, int]:
    """Write every source's accepted table under ``ingest_dir/accepted`` as ingest writes it: a folder of parts
    of ``DEFAULT_CHUNK_ROWS`` rows each, with ingest's encodings and ``buckets`` row groups by USCC hash
    (``features.ingest_versions.write_part``); returns rows per source."""
    accepted = Path(ingest_dir) / "accepted"
    rows: dict[str, int] = {}
    parts: dict[str, int] = {}
    for first in range(0, enterprises, block_size):
        for source, table in block(first, min(block_size, enterprises - first), seed).items():
            folder = accepted / f"{source}.parquet"
            folder.mkdir(parents=True, exist_ok=True)
            for start in range(0, table.num_rows, DEFAULT_CHUNK_ROWS):
                write_part(table.slice(start, DEFAULT_CHUNK_ROWS), folder / f"part-{parts.get(source, 0):05d}.parquet",
                           buckets)
                parts[source] = parts.get(source, 0) + 1
            rows[source] = rows.get(source, 0) + table.num_rows
    return rows
