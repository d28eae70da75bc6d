"""Hypothesis strategies: accepted tables of all ten sources for a handful of enterprises, built around an as-of date.

``scenarios()`` draws an as-of date d first and then each enterprise's records relative to it, so the edges the
profile rules turn on come up often: filings that arrive after d, corrections (a later version, the earlier one
superseded from the correction's availability), penalties of each severity a few days either side of the end of
their publication period, repairs and revocations, judicial and list entries removed just before or after d,
commitments resolved before or after d, zero and missing amounts, enterprises closed (注销/吊销) or founded after
d, tax grades of several years. Rows are typed exactly as ``features.ingest`` writes them
(``features.ingest_versions.accepted_schema``) and respect the schemas' date orders and conditional rules.

``later_records(scenario)`` draws, for the leakage test, new records and corrections that all arrive after d.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date
from itertools import pairwise
from typing import Any

import pandas as pd
import pyarrow as pa
from hypothesis import strategies as st

from features.asof import PUBLICATION_MONTHS
from features.ingest_versions import accepted_schema
from features.profiles import SourceTables
from features.schemas import (
    ADMIN_RECORD_KINDS,
    COMMITMENT_KINDS,
    ENTERPRISE_TYPES,
    INDUSTRY_SECTIONS,
    LIST_NAMES,
    PENALTY_SEVERITIES,
    SIZE_CLASSES,
    SOURCES,
    SOURCES_BY_NAME,
    TAX_CREDIT_GRADES,
    UTILITY_KINDS,
)
from tests.utils.raw_files import uscc_for

Row = dict[str, Any]
Draw = st.DrawFn
SOURCE_NAMES = tuple(spec.name for spec in SOURCES)
REGIONS = ("110105", "310115", "410103", "440300", "510104", "650102", "710000", "820000")
SPECIAL_DATES = (date(2024, 2, 29), date(2023, 12, 31), date(2024, 3, 31), date(2025, 1, 1), date(2024, 1, 31))
DAY = pd.Timedelta(days=1)
# Amount levels: a few repeated values (equal months, zero variance) and a spread of others.
LEVELS = (100.0, 100.0, 2_500.5, 40_000.0, 1_000_000.0, *(round(37.3 * k**2.7, 2) for k in range(1, 30)))


@dataclass
class Scenario:
    """Accepted rows of every source for a few enterprises, and the as-of date they were drawn around."""

    as_of: pd.Timestamp
    usccs: tuple[str, ...]
    rows: dict[str, list[Row]] = field(default_factory=dict)

    @property
    def tables(self) -> SourceTables:
        return tables_from_rows(self.rows)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))  # hypothesis prints falsifying examples with this, tables in full

    def __repr__(self) -> str:
        parts = [f"Scenario(as_of={self.as_of:%Y-%m-%d}, usccs={self.usccs})"]
        tables = self.tables
        for source in (f.name for f in fields(tables)):
            frame = getattr(tables, source)
            if len(frame):
                shown = frame.drop(columns=["_file", "_line"]).sort_values(list(SOURCES_BY_NAME[source].key))
                parts.append(f"--- {source}\n{shown.to_string(index=False)}")
        return "\n".join(parts)


def frame_of(source: str, rows: list[Row]) -> pd.DataFrame:
    """An accepted table of ``source`` from dict rows (absent columns empty), typed as ingest writes it."""
    schema = accepted_schema(SOURCES_BY_NAME[source])
    full = [{name: row.get(name) for name in schema.names} | {"_file": row.get("_file") or "hypothesis.csv",
                                                             "_line": i + 2} for i, row in enumerate(rows)]
    return pa.Table.from_pylist(full, schema=schema).to_pandas()


def tables_from_rows(rows: dict[str, list[Row]]) -> SourceTables:
    """SourceTables holding ``rows`` (a source not given is empty)."""
    return SourceTables(**{source: frame_of(source, rows.get(source, [])) for source in SOURCE_NAMES})


def chain_versions(versions: list[Row], source: str) -> list[Row]:
    """Set ``_superseded_on`` of every version but the last to the availability of the next (as ingest does)."""
    available = SOURCES_BY_NAME[source].available
    ordered = sorted(versions, key=lambda r: r[available])
    for earlier, later in pairwise(ordered):
        earlier["_superseded_on"] = later[available]
    ordered[-1]["_superseded_on"] = None
    return ordered


# --- small draws ------------------------------------------------------------------------------------------------


def as_of_dates() -> st.SearchStrategy[pd.Timestamp]:
    days = st.one_of(st.sampled_from(SPECIAL_DATES), st.dates(date(2023, 1, 1), date(2025, 12, 31)))
    return days.map(pd.Timestamp)


def amount(draw: Draw, scale: float = 1.0) -> float | None:
    """Mostly a positive amount (some of them equal), sometimes 0, sometimes missing."""
    k = draw(st.integers(-2, len(LEVELS) - 1))
    if k == -2:
        return None
    return 0.0 if k == -1 else round(LEVELS[k] * scale, 2)


def near(draw: Draw, anchor: pd.Timestamp, far_back: int = 1300, far_ahead: int = 200) -> pd.Timestamp:
    """A day within 3 of ``anchor`` (one time in three), else anywhere in [anchor − far_back, anchor + far_ahead]."""
    if draw(st.integers(0, 2)) == 0:
        return anchor + draw(st.integers(-3, 3)) * DAY
    return anchor + draw(st.integers(-far_back, far_ahead)) * DAY


def first_available(draw: Draw, event: pd.Timestamp, as_of: pd.Timestamp) -> pd.Timestamp:
    """Availability of a first version: soon after the event, much later, or a few days either side of d."""
    mode = draw(st.integers(0, 3))
    if mode == 0:
        return max(event, as_of + draw(st.integers(-3, 3)) * DAY)
    lag = draw(st.integers(0, 45)) if mode < 3 else draw(st.integers(46, 800))
    return event + lag * DAY


def versions(draw: Draw, source: str, first: Row, revise: Callable[[Row], Row], as_of: pd.Timestamp) -> list[Row]:
    """1 version mostly, else 2 or 3: each correction arrives after the previous one, values revised."""
    spec = SOURCES_BY_NAME[source]
    first[spec.available] = first_available(draw, first[spec.event], as_of)
    out = [first]
    for _ in range({0: 1, 1: 1, 2: 1, 3: 1, 4: 2, 5: 2, 6: 3}[draw(st.integers(0, 6))] - 1):
        nxt = revise(dict(out[-1]))
        gap = draw(st.integers(1, 3)) if draw(st.booleans()) else draw(st.integers(4, 400))
        nxt[spec.available] = max(out[-1][spec.available] + gap * DAY, nxt[spec.event])
        out.append(nxt)
    return chain_versions(out, source)


# --- one enterprise's records, source by source -----------------------------------------------------------------


def registration_values(draw: Draw, row: Row, as_of: pd.Timestamp) -> Row:
    """Capital, size and status of a registration version (a correction may close it, or move founded_on)."""
    if draw(st.integers(0, 9)) == 0:
        row["founded_on"] = near(draw, as_of, far_back=4000, far_ahead=60)
    row["registered_capital"] = draw(st.sampled_from((0.0, 1e4, 1e6, 5_158_000.0, 3.3e8)))
    row["size_class"] = draw(st.sampled_from(SIZE_CLASSES))
    row["status"] = draw(st.sampled_from(("存续", "存续", "存续", "存续", "存续", "存续", "注销", "吊销")))
    row["status_on"] = None if row["status"] == "存续" else max(row["founded_on"], near(draw, as_of))
    return row


def registration(draw: Draw, uscc: str, as_of: pd.Timestamp) -> list[Row]:
    section = draw(st.sampled_from(sorted(INDUSTRY_SECTIONS)))
    lo, hi = INDUSTRY_SECTIONS[section]
    mode = draw(st.integers(0, 7))
    founded = as_of + (draw(st.integers(-3, 3)) if mode == 0 else draw(st.integers(1, 400)) if mode == 1
                       else draw(st.integers(-9000, -4))) * DAY
    row: Row = {"uscc": uscc, "name": "测试企业", "founded_on": founded,
                "industry": f"{section}{draw(st.integers(lo, hi)):02d}", "region_code": draw(st.sampled_from(REGIONS)),
                "enterprise_type": draw(st.sampled_from(ENTERPRISE_TYPES))}
    row = registration_values(draw, row, as_of)
    return versions(draw, "registration", row, lambda r: registration_values(draw, r, as_of), as_of)


MONTHLY_VALUES: dict[str, tuple[tuple[str, float], ...]] = {
    "tax_monthly": (("vat", 0.05), ("cit", 0.02), ("invoiced_sales", 1.0), ("overdue_tax", 0.01)),
    "social_insurance_monthly": (("contribution_due", 0.1), ("contribution_paid", 0.1), ("arrears", 0.01)),
    "housing_fund_monthly": (("contribution_due", 0.05), ("contribution_paid", 0.05), ("arrears", 0.01)),
    "utilities_monthly": (("quantity", 1.0), ("amount_billed", 0.8), ("amount_paid", 0.8), ("days_late", 0.0)),
}
HEADCOUNT = {"social_insurance_monthly": "insured_headcount", "housing_fund_monthly": "contributors"}


def days_late(draw: Draw) -> float | None:
    k = draw(st.integers(-1, 5))
    return None if k == -1 else float((0, 0, 1, 3, 12, 45)[k])


def monthly_values(draw: Draw, source: str, row: Row, spotty: bool) -> Row:
    """A month's measures; in a ``spotty`` source about half of them are left empty (not reported)."""
    for column, scale in MONTHLY_VALUES[source]:
        if spotty and draw(st.booleans()):
            row[column] = None
        else:
            row[column] = days_late(draw) if column == "days_late" else amount(draw, scale)
    if source in HEADCOUNT:
        k = draw(st.integers(-1, 6))
        row[HEADCOUNT[source]] = None if k == -1 or (spotty and draw(st.booleans())) else float((0, 1, 3, 3, 12, 40,
                                                                                                 250)[k])
    return row


def periods(draw: Draw, as_of: pd.Timestamp) -> list[pd.Timestamp]:
    """A run of report months starting near d's month (−1 = the next one, 13 = none in the last 12, 30 = across
    the edge of the last 36) with gaps."""
    month = as_of.to_period("M").to_timestamp()
    nearest = draw(st.sampled_from((-1, 0, 0, 1, 2, 3, 4, 7, 13, 30)))
    length = draw(st.integers(0, 26))
    gaps = draw(st.sets(st.integers(nearest, nearest + length), max_size=4))
    return [month - pd.DateOffset(months=k) for k in range(nearest, nearest + length) if k not in gaps]


def monthly(draw: Draw, source: str, uscc: str, as_of: pd.Timestamp) -> list[Row]:
    out: list[Row] = []
    spotty = draw(st.integers(0, 3)) == 0
    kinds = draw(st.sets(st.sampled_from(UTILITY_KINDS), min_size=1)) if source == "utilities_monthly" else {None}
    for kind in sorted(kinds, key=str):
        for period in periods(draw, as_of):
            row: Row = {"uscc": uscc, "period": period} | ({"kind": kind} if kind else {})
            out += versions(draw, source, monthly_values(draw, source, row, spotty),
                            lambda r: monthly_values(draw, source, r, spotty), as_of)
    return out


def grades(draw: Draw, uscc: str, as_of: pd.Timestamp) -> list[Row]:
    out: list[Row] = []
    for year in sorted(draw(st.sets(st.integers(as_of.year - 5, as_of.year), max_size=4))):
        start = pd.Timestamp(year=year, month=1, day=1)
        evaluated = near(draw, as_of) if draw(st.integers(0, 3)) == 0 else (
            pd.Timestamp(year=year + 1, month=4, day=15) + draw(st.integers(-100, 60)) * DAY)
        row: Row = {"uscc": uscc, "year": start, "grade": draw(st.sampled_from(TAX_CREDIT_GRADES)),
                    "evaluated_on": max(start, evaluated)}

        def regrade(r: Row) -> Row:
            return r | {"grade": draw(st.sampled_from(TAX_CREDIT_GRADES))}

        out += versions(draw, "tax_credit_grade", row, regrade, as_of)
    return out


def penalty_status(draw: Draw, row: Row, as_of: pd.Timestamp) -> Row:
    status = draw(st.sampled_from(("有效", "有效", "有效", "已修复", "已修复", "已撤销")))
    repaired = max(row["decision_date"], near(draw, as_of, far_back=700, far_ahead=60)) if status == "已修复" else None
    return row | {"status": status, "repaired_on": repaired, "amount": amount(draw, 0.05)}


def admin_record(draw: Draw, record_id: str, uscc: str, as_of: pd.Timestamp) -> list[Row]:
    kind = draw(st.sampled_from(("处罚", "处罚", "处罚", *ADMIN_RECORD_KINDS)))
    row: Row = {"record_id": record_id, "uscc": uscc, "kind": kind, "department": "某市市场监督管理局"}
    if kind == "处罚":
        severity = draw(st.sampled_from(PENALTY_SEVERITIES))
        published = draw(st.booleans())
        if draw(st.booleans()):  # its publication period ends a few days either side of d
            start = as_of - pd.DateOffset(months=PUBLICATION_MONTHS[severity]) + draw(st.integers(-3, 3)) * DAY
            decision = start - draw(st.integers(0, 12)) * DAY if published else start
        else:
            decision = near(draw, as_of)
            start = decision + draw(st.integers(0, 20)) * DAY
        row |= {"severity": severity, "decision_date": decision, "published_on": start if published else None}
        row = penalty_status(draw, row, as_of)
        revise: Callable[[Row], Row] = lambda r: penalty_status(draw, r, as_of)  # noqa: E731
    else:
        months = draw(st.sampled_from((0, 12, 24, 36)))  # window edges of the licence/award/inspection counts
        decision = near(draw, as_of - pd.DateOffset(months=months))
        published = None if draw(st.integers(0, 4)) == 0 else decision + draw(st.integers(0, 10)) * DAY
        row |= {"decision_date": decision, "published_on": published}
        revise = lambda r: r | {"department": "某市行政审批局"}  # noqa: E731
    return versions(draw, "admin_records", row, revise, as_of)


def ending(draw: Draw, start: pd.Timestamp, as_of: pd.Timestamp) -> pd.Timestamp:
    """An end on or after ``start``: near d, or anywhere."""
    return max(start, near(draw, as_of, far_back=900, far_ahead=300))


def open_entry(draw: Draw, source: str, row: Row, start: str, end: str, as_of: pd.Timestamp) -> list[Row]:
    """A judicial or list entry: open at first; a removal as a later version, or already in the first."""
    row[end] = ending(draw, row[start], as_of) if draw(st.integers(0, 3)) == 0 else None
    return versions(draw, source, row, lambda r: r | {end: ending(draw, r[start], as_of)}, as_of)


def judicial(draw: Draw, case_id: str, uscc: str, as_of: pd.Timestamp) -> list[Row]:
    row: Row = {"case_id": case_id, "uscc": uscc, "kind": draw(st.sampled_from(("失信被执行人", "被执行人"))),
                "court": None if draw(st.booleans()) else "某市人民法院", "listed_on": near(draw, as_of),
                "amount": amount(draw, 0.3)}
    return open_entry(draw, "judicial", row, "listed_on", "removed_on", as_of)


def list_entry(draw: Draw, entry_id: str, uscc: str, as_of: pd.Timestamp) -> list[Row]:
    row: Row = {"entry_id": entry_id, "uscc": uscc, "list_name": draw(st.sampled_from(LIST_NAMES)),
                "entered_on": near(draw, as_of), "reason": None, "department": "某市市场监督管理局"}
    return open_entry(draw, "list_entries", row, "entered_on", "exited_on", as_of)


def resolution(draw: Draw, row: Row, as_of: pd.Timestamp) -> Row:
    outcome = draw(st.sampled_from(("kept", "kept", "broken", "pending")))
    if outcome == "pending":
        return row | {"fulfilment": "pending", "resolved_on": None}
    anchor = as_of - pd.DateOffset(months=36) if draw(st.integers(0, 3)) == 0 else as_of
    return row | {"fulfilment": outcome, "resolved_on": max(row["committed_on"], near(draw, anchor))}


def commitment(draw: Draw, commitment_id: str, uscc: str, as_of: pd.Timestamp) -> list[Row]:
    anchor = as_of - pd.DateOffset(months=36) if draw(st.integers(0, 3)) == 0 else as_of
    row: Row = {"commitment_id": commitment_id, "uscc": uscc, "kind": draw(st.sampled_from(COMMITMENT_KINDS)),
                "committed_on": near(draw, anchor), "department": None}
    if draw(st.booleans()):
        first = row | {"fulfilment": "pending", "resolved_on": None}
    else:
        first = resolution(draw, row, as_of)
    return versions(draw, "commitments", first, lambda r: resolution(draw, r, as_of), as_of)


RECORDS = {"admin_records": ("AR", admin_record), "judicial": ("（2024）执", judicial),
           "list_entries": ("LE", list_entry), "commitments": ("CM", commitment)}


def enterprise(draw: Draw, number: int, as_of: pd.Timestamp) -> dict[str, list[Row]]:
    """Every source's rows for one enterprise (USCC ``uscc_for(number)``)."""
    uscc = uscc_for(number, draw(st.sampled_from(REGIONS)))
    rows: dict[str, list[Row]] = {"registration": registration(draw, uscc, as_of),
                                  "tax_credit_grade": grades(draw, uscc, as_of)}
    for source in MONTHLY_VALUES:
        rows[source] = monthly(draw, source, uscc, as_of)
    for source, (prefix, make) in RECORDS.items():
        rows[source] = [row for i in range(draw(st.integers(0, 6 if source == "admin_records" else 4)))
                        for row in make(draw, f"{prefix}{number}-{i}", uscc, as_of)]
    return rows


@st.composite
def scenarios(draw: Draw, max_enterprises: int = 3) -> Scenario:
    """A few enterprises' accepted records of all ten sources, drawn around an as-of date."""
    as_of = draw(as_of_dates())
    numbers = draw(st.lists(st.integers(1, 999), min_size=1, max_size=max_enterprises, unique=True))
    rows: dict[str, list[Row]] = {source: [] for source in SOURCE_NAMES}
    usccs = []
    for number in numbers:
        mine = enterprise(draw, number, as_of)
        usccs.append(mine["registration"][0]["uscc"])
        for source, source_rows in mine.items():
            rows[source] += source_rows
    shuffle = draw(st.randoms(use_true_random=False))
    for source_rows in rows.values():
        shuffle.shuffle(source_rows)
    return Scenario(as_of, tuple(usccs), rows)


# --- records known only after d (the leakage test) ------------------------------------------------------------


def _after(draw: Draw, as_of: pd.Timestamp, earliest: pd.Timestamp) -> pd.Timestamp:
    return max(as_of, earliest) + draw(st.integers(1, 400)) * DAY


def _new_record(draw: Draw, source: str, scenario: Scenario, n: int) -> list[Row]:
    """A record under a key the scenario does not use yet, every version of it arriving after d."""
    as_of = scenario.as_of
    uscc = draw(st.sampled_from(scenario.usccs))
    if source == "registration":
        made = registration(draw, uscc_for(1000 + n), as_of)
    elif source == "tax_credit_grade":
        made = [r for r in grades(draw, uscc, as_of) if not any(
            o["uscc"] == uscc and o["year"] == r["year"] for o in scenario.rows[source])]
    elif source in MONTHLY_VALUES:
        taken = {(o["period"], o.get("kind")) for o in scenario.rows[source] if o["uscc"] == uscc}
        made = [r for r in monthly(draw, source, uscc, as_of) if (r["period"], r.get("kind")) not in taken]
    else:
        prefix, make = RECORDS[source]
        made = make(draw, f"LATE{prefix}{n}", uscc, as_of)
    available = SOURCES_BY_NAME[source].available
    if made:  # shift every version so that the first arrives after d; order and event ≤ availability hold
        shift = _after(draw, as_of, min(r[available] for r in made)) - min(r[available] for r in made)
        for r in made:
            r[available] += shift
            if r["_superseded_on"] is not None:
                r["_superseded_on"] += shift
    return made


REVISIONS: dict[str, Callable[[Draw, Row, pd.Timestamp], Row]] = {
    "registration": registration_values,
    "tax_credit_grade": lambda draw, r, as_of: r | {"grade": draw(st.sampled_from(TAX_CREDIT_GRADES))},
    "judicial": lambda draw, r, as_of: r | {"removed_on": ending(draw, r["listed_on"], as_of), "amount": 0.0},
    "list_entries": lambda draw, r, as_of: r | {"exited_on": ending(draw, r["entered_on"], as_of)},
    "commitments": resolution,
}


def _revise(draw: Draw, source: str, row: Row, as_of: pd.Timestamp) -> Row:
    if source in MONTHLY_VALUES:
        return monthly_values(draw, source, row, draw(st.booleans()))
    if source == "admin_records":
        return penalty_status(draw, row, as_of) if row["kind"] == "处罚" else row | {"department": "另一机关"}
    return REVISIONS[source](draw, row, as_of)


@st.composite
def later_records(draw: Draw, scenario: Scenario) -> dict[str, list[Row]]:
    """The scenario's rows plus new records and corrections of every source, all available after d."""
    rows = {source: [dict(r) for r in source_rows] for source, source_rows in scenario.rows.items()}
    fresh = draw(st.sets(st.sampled_from(SOURCE_NAMES), min_size=1), label="sources with new records")
    for n, source in enumerate(SOURCE_NAMES):
        spec = SOURCES_BY_NAME[source]
        if source in fresh:
            rows[source] += _new_record(draw, source, Scenario(scenario.as_of, scenario.usccs, rows), n)
        current = [r for r in rows[source] if r["_superseded_on"] is None]
        for last in draw(st.lists(st.sampled_from(current), max_size=3, unique_by=id)) if current else []:
            correction = _revise(draw, source, dict(last), scenario.as_of)
            correction[spec.available] = max(_after(draw, scenario.as_of, last[spec.available]),
                                             correction[spec.event])
            correction["_superseded_on"] = None
            last["_superseded_on"] = correction[spec.available]
            rows[source].append(correction)
    return rows


@st.composite
def pair_requests(draw: Draw, scenario: Scenario) -> pd.DataFrame:
    """Distinct (uscc, as_of) pairs over the scenario's enterprises (and one unknown code) and a few dates."""
    dates = [scenario.as_of, *draw(st.lists(as_of_dates(), max_size=3))]
    usccs = [*scenario.usccs, uscc_for(99_999)]
    pairs = draw(st.lists(st.tuples(st.sampled_from(usccs), st.sampled_from(dates)), min_size=1, max_size=12,
                          unique=True))
    return pd.DataFrame(pairs, columns=["uscc", "as_of"])
