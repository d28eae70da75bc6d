"""The vectorised checks against a slow, row-by-row reference written straight from docs/raw-files.md."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.ingest import ingest_region, load_accepted, load_quarantine
from features.schemas import (
    ADMIN_RECORDS,
    COMMITMENTS,
    LIST_ENTRIES,
    REGISTRATION,
    TAX_CREDIT_GRADE,
    TAX_MONTHLY,
    ColumnKind,
    SourceSpec,
)
from features.uscc import check_uscc
from tests.utils.raw_files import (
    EXTRACTED_ON,
    Row,
    admin_row,
    commitment_row,
    list_entry_row,
    registration_row,
    tax_grade_row,
    tax_row,
    uscc_for,
    write_region,
)

NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


SHAPES = {ColumnKind.DATE: (r"[0-9]{4}-[0-9]{2}-[0-9]{2}", "%Y-%m-%d"),
          ColumnKind.PERIOD: (r"[0-9]{4}-[0-9]{2}", "%Y-%m"), ColumnKind.YEAR: (r"[0-9]{4}", "%Y")}


def _parse(value: str, kind: ColumnKind) -> datetime | None:
    shape, fmt = SHAPES[kind]
    if not re.fullmatch(shape, value):
        return None
    try:
        return datetime.strptime(value, fmt)
    except ValueError:
        return None


def reference_first_failure(row: dict[str, str], spec: SourceSpec, extracted_on: date,
                            registry: set[str] | None) -> tuple[str, str] | None:
    """The first (field, rule) a row breaks, checking rule by rule and column by column, or None."""
    cols = spec.columns
    present = {c.name: row[c.name] != "" for c in cols}
    for c in cols:
        if c.required and not present[c.name]:
            return c.name, "required"
    for c in cols:
        if c.kind is ColumnKind.USCC and present[c.name] and not (check := check_uscc(row[c.name])).valid:
            return c.name, str(check.rule)
    for c in cols:
        if c.kind is ColumnKind.USCC and registry is not None and present[c.name] and row[c.name] not in registry:
            return c.name, "uscc.unregistered"
    if "\n" in "".join(row.values()):
        return "(row)", "row.format"
    for kind, rule in ((ColumnKind.DATE, "date.format"), (ColumnKind.PERIOD, "period.format"),
                       (ColumnKind.YEAR, "year.format")):
        for c in cols:
            if c.kind is kind and present[c.name] and _parse(row[c.name], kind) is None:
                return c.name, rule
    for c in cols:
        if c.kind in (ColumnKind.NUMBER, ColumnKind.AMOUNT) and present[c.name] and not NUMBER.fullmatch(row[c.name]):
            return c.name, "number.format"
    for c in cols:
        if c.kind is ColumnKind.CODE and present[c.name]:
            known = row[c.name] in c.allowed if c.allowed else re.fullmatch(str(c.pattern), row[c.name])
            if not known:
                return c.name, "code.unknown"
    for c in cols:
        if c.kind is ColumnKind.AMOUNT and present[c.name] and float(row[c.name]) < 0:
            return c.name, "amount.negative"
    cutoff = datetime(extracted_on.year, extracted_on.month, extracted_on.day)
    for c in cols:
        if c.kind in SHAPES and present[c.name]:
            parsed = _parse(row[c.name], c.kind)
            if parsed is not None and parsed > cutoff:
                return c.name, "date.future"
    for order in spec.date_orders:
        if present[order.earlier] and present[order.later]:
            earlier = _parse(row[order.earlier], spec.column(order.earlier).kind)
            later = _parse(row[order.later], spec.column(order.later).kind)
            if earlier and later and later < earlier:
                return order.later, "date.order"
    for condition in spec.conditionals:
        if condition.required and row[condition.when_column] in condition.when and not present[condition.column]:
            return condition.column, "conditional.required"
    for condition in spec.conditionals:
        if row[condition.when_column] not in condition.when and present[condition.column]:
            return condition.column, "conditional.not_applicable"
    return None


def _typed(row: dict[str, str], spec: SourceSpec) -> tuple[object, ...]:
    values: list[object] = []
    for c in spec.columns:
        value = row[c.name]
        if value == "":
            values.append(None)
        elif c.kind in SHAPES:
            values.append(_parse(value, c.kind))
        elif c.kind in (ColumnKind.NUMBER, ColumnKind.AMOUNT):
            values.append(float(value) + 0.0)
        else:
            values.append(value)
    return tuple(values)


def reference_verdicts(rows: list[dict[str, str]], spec: SourceSpec, extracted_on: date,
                       registry: set[str] | None) -> list[tuple[str, str] | None]:
    """Per row: (field, rule) when quarantined, ("", "duplicate") when dropped as an exact repeat, else None."""
    seen_rows: set[tuple[object, ...]] = set()
    seen_keys: set[tuple[object, ...]] = set()
    names = list(spec.column_names)
    key_positions = [names.index(name) for name in (*spec.key, spec.available)]
    verdicts: list[tuple[str, str] | None] = []
    for row in rows:
        verdict = reference_first_failure(row, spec, extracted_on, registry)
        if verdict is None:
            typed = _typed(row, spec)
            key = tuple(typed[i] for i in key_positions)
            if typed in seen_rows:
                verdict = ("", "duplicate")
            elif key in seen_keys:
                verdict = (",".join(spec.key), "duplicate.conflict")
            seen_rows.add(typed)
            seen_keys.add(key)
        verdicts.append(verdict)
    return verdicts


SPOILERS = {
    ColumnKind.USCC: ["", "91440300000000019", "9144030000000O019B", "2144030000000001XB", "91A40300000000019B",
                      "91440300000000019X", uscc_for(999)],
    ColumnKind.DATE: ["", "2024-02-30", "2024/01/01", "2031-01-01", "2000-01-01", "2024-06-30", "2024-07-01"],
    ColumnKind.PERIOD: ["", "2024-13", "2024-1", "2024-06", "2024-07", "2019-01"],
    ColumnKind.NUMBER: ["", "-1", "1,000", "N/A", "1e3", "+5", ".5", "inf", "0"],
    ColumnKind.AMOUNT: ["", "-1", "1,000", "N/A", "1e3", "+5", ".5", "inf", "0", "-0.0"],
    ColumnKind.CODE: ["", "处罚", "许可", "steam", "C13", "c13", "C44", "一般", "严重", "red", "grey", "已修复", "有效",
                      "pending", "kept", "A", "E", "注销"],
    ColumnKind.TEXT: ["", "AR-1", "AR-2", "L-1", "x"],
    ColumnKind.YEAR: ["", "23", "2023", "2025", "2022"],
}


def dirty_rows(spec: SourceSpec, make_row: Callable[[], Row], n: int, seed: int) -> list[Row]:
    """Mostly valid rows with random cells spoilt, and some keys repeated."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        row = make_row()
        if spec is TAX_MONTHLY:
            row["period"] = f"2023-{1 + i % 12:02d}" if rng.random() < 0.8 else row["period"]
            row["uscc"] = uscc_for(1 + int(rng.integers(0, 40)))
        elif spec is TAX_CREDIT_GRADE:
            row["year"] = str(2019 + i % 5) if rng.random() < 0.8 else row["year"]
            row["uscc"] = uscc_for(1 + int(rng.integers(0, 10)))
        elif spec is REGISTRATION:
            row["uscc"] = uscc_for(1 + int(rng.integers(0, n)))
        else:
            row[spec.key[0]] = f"K-{int(rng.integers(0, n))}"
        for column in spec.columns:
            if rng.random() < 0.08:
                choices = SPOILERS[column.kind]
                row[column.name] = choices[int(rng.integers(0, len(choices)))]
        rows.append(row)
    return rows


@pytest.mark.parametrize(("spec", "make_row"), [
    (REGISTRATION, registration_row), (TAX_MONTHLY, tax_row), (TAX_CREDIT_GRADE, tax_grade_row),
    (ADMIN_RECORDS, admin_row), (LIST_ENTRIES, list_entry_row), (COMMITMENTS, commitment_row)],
    ids=lambda value: getattr(value, "name", ""))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_vectorised_checks_match_the_reference(tmp_path: Path, spec: SourceSpec, make_row: Callable[[], Row],
                                               seed: int) -> None:
    rows = dirty_rows(spec, make_row, 600, seed)
    registry = None if spec is REGISTRATION else {uscc_for(i) for i in range(1, 31)}
    extracted_on = date.fromisoformat(EXTRACTED_ON)
    expected = reference_verdicts(rows, spec, extracted_on, registry)

    given = {spec.name: rows}
    if registry is not None:
        given["registration"] = [registration_row(code) for code in sorted(registry)]
    raw = write_region(tmp_path / "raw", given)
    summary = ingest_region(raw, tmp_path / "out", chunk_rows=128)  # several chunks: keys resolved across them
    quarantine = load_quarantine(tmp_path / "out", spec.name)

    got: list[tuple[str, str] | None] = [None] * len(rows)
    for line, field, rule in quarantine[["_line", "_field", "_rule"]].itertuples(index=False):
        got[line - 2] = (field, rule)
    for i, verdict in enumerate(expected):
        if verdict == ("", "duplicate"):
            got[i] = verdict  # dropped rows are counted, not listed
    assert got == expected
    report = summary.by_source[spec.name]
    assert report.duplicates == sum(v == ("", "duplicate") for v in expected)
    assert len(load_accepted(tmp_path / "out", spec.name)) == sum(v is None for v in expected)
    assert {rule for _, rule in filter(None, expected)} >= {"required", "duplicate.conflict"}


@pytest.mark.slow
def test_a_monthly_source_of_20000_enterprises_ingests_in_seconds(tmp_path: Path) -> None:
    n, months = 20_000, 36
    codes = [uscc_for(i) for i in range(1, n + 1)]
    raw = write_region(tmp_path / "raw")
    registration = pd.DataFrame([registration_row()] * n)
    registration["uscc"] = codes
    registration.to_csv(raw / REGISTRATION.filename, index=False)
    periods = pd.period_range("2021-06", periods=months, freq="M").strftime("%Y-%m")
    tax = pd.DataFrame({"uscc": np.repeat(codes, months), "period": np.tile(periods, n)})
    rng = np.random.default_rng(0)
    for name in ("vat", "cit", "invoiced_sales", "overdue_tax"):
        tax[name] = rng.gamma(2, 5000, len(tax)).round(2)
    tax["filed_on"] = "2024-06-15"
    tax.loc[::997, "vat"] = -1.0
    tax.to_csv(raw / TAX_MONTHLY.filename, index=False)

    started = time.perf_counter()
    summary = ingest_region(raw, tmp_path / "out")
    elapsed = time.perf_counter() - started

    report = summary.by_source["tax_monthly"]
    assert report.read == n * months
    assert report.quarantined == report.by_rule["amount.negative"] == len(tax.loc[::997])
    assert len(load_accepted(tmp_path / "out", "tax_monthly")) == report.accepted
    assert len(load_quarantine(tmp_path / "out", "tax_monthly")) == report.quarantined
    assert elapsed < 60, f"ingest of {n * months} tax rows took {elapsed:.1f}s"
