"""The slow, obviously correct profile: one enterprise, one as-of date, a plain loop over its records.

Written from the catalogue's definitions (``features.catalogue_specs``) and the rules of DOMAIN.md, without
``features.profiles`` or ``features.asof``, so the fast path is checked against an independent reading. Every
rule is applied by hand:

- *held on d*: a version counts when its event date and its availability date are on or before d and it was not
  superseded by d (``_superseded_on`` empty or after d);
- *the last n months*: periods 0 … n − 1 calendar months back from d's month; *months k–m back*: k … m back;
- *d − n months*: ``d - pd.DateOffset(months=n)``; months between two dates: days / 30.4375.

Readings chosen where a definition leaves room (the lead was told; each is marked READING below):

1. Sums skip missing amounts, and a sum with no reported value at all is missing (NaN), like a sum over no
   record: the convention "amounts are missing when their inputs are". So ``sales_12m_log`` is NaN when the
   filings of the last 12 months all leave invoiced_sales empty. Exceptions: features whose ``missing_means``
   is "never" (fines and amounts under enforcement) take a missing amount as 0.
2. A growth or change ratio is NaN when its *recent* sum is missing too (no filing / no record in the recent
   months), not −100 %: a missing input gives a missing ratio.
3. "vat + cit > 0" and "sum of vat + cit" add what is reported: a filing with vat 100 and cit empty paid tax.
4. "fewer than 3 filings / records" for volatility counts the ones that report the measure.
5. "the latest filing / record" is the one with the latest period; when its measure is empty the feature is
   NaN (no fallback to an earlier record).
6. A late filing is judged by the *first* version's filed_on (the original 申报): an amended filing (更正申报,
   a correction with a later filed_on) does not make an on-time filing late. Only versions available by d
   are looked at, so nothing leaks.
7. The publication period runs in calendar months: a penalty published on p stops counting on
   ``p + pd.DateOffset(months=N)`` (N = 3, 12, 36 by severity; 一般 when none is given), counted from
   published_on, or decision_date while unpublished. It counts while d is before that day.
8. A repair counts from its repaired_on: a version held on d that says 已修复 with repaired_on after d still
   counts; 已撤销 never counts.
9. A judicial or list entry is open on d when held, started on or before d (its event date) and its
   removed_on / exited_on is empty or after d.
10. A commitment resolved (kept / broken) with resolved_on after d is still pending on d.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from features.asof import PUBLICATION_MONTHS
from features.catalogue import FEATURE_NAMES
from features.schemas import ENTERPRISE_TYPES, SOURCES

Record = dict[str, Any]
Records = dict[str, list[Record]]
NAN = math.nan
DAYS_PER_MONTH = 30.4375
SOURCE_NAMES = tuple(spec.name for spec in SOURCES)
# (event date, availability date) of each source, as docs/data-sources.md declares them.
DATES = {spec.name: (spec.event, spec.available) for spec in SOURCES}
SIZE_CODES = {"微": 0.0, "小": 1.0, "中": 2.0, "大": 3.0}
GRADE_CODES = {"A": 0.0, "B": 1.0, "M": 2.0, "C": 3.0, "D": 4.0}
CLOSED = ("注销", "吊销")


# --- small helpers ---------------------------------------------------------------------------------------


def missing(value: object) -> bool:
    """True for None, NaN and NaT."""
    return value is None or bool(pd.isna(value))


def months_between(earlier: pd.Timestamp, later: pd.Timestamp) -> float:
    """Days from ``earlier`` to ``later`` / 30.4375."""
    return (later - earlier) / pd.Timedelta(days=1) / DAYS_PER_MONTH


def months_back(period: pd.Timestamp, as_of: pd.Timestamp) -> int:
    """Calendar months from ``period``'s month to ``as_of``'s month (0 = the same month)."""
    return (as_of.year - period.year) * 12 + as_of.month - period.month


def in_months(records: Iterable[Record], as_of: pd.Timestamp, nearest: int, farthest: int) -> list[Record]:
    """Monthly records ``nearest`` … ``farthest`` months back from d's month."""
    return [r for r in records if nearest <= months_back(r["period"], as_of) <= farthest]


def total(values: Iterable[object]) -> float:
    """Sum of the reported values; NaN when none is reported (READING 1)."""
    reported = [float(v) for v in values if not missing(v)]  # type: ignore[arg-type]
    return math.fsum(reported) if reported else NAN


def log1p(value: float) -> float:
    return NAN if math.isnan(value) else math.log1p(value)


def change(recent: float, earlier: float) -> float:
    """recent / earlier − 1; NaN when earlier is missing or not positive, or recent is missing (READING 2)."""
    if math.isnan(earlier) or earlier <= 0 or math.isnan(recent):
        return NAN
    return recent / earlier - 1.0


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator; NaN when the denominator is missing or not positive, or the numerator missing."""
    if math.isnan(denominator) or denominator <= 0 or math.isnan(numerator):
        return NAN
    return numerator / denominator


def volatility(values: Iterable[object]) -> float:
    """Population standard deviation / mean of the reported values; NaN under 3 of them or a mean ≤ 0."""
    reported = [float(v) for v in values if not missing(v)]  # type: ignore[arg-type]
    if len(reported) < 3:
        return NAN
    mean = math.fsum(reported) / len(reported)
    if mean <= 0:
        return NAN
    return math.sqrt(math.fsum((v - mean) ** 2 for v in reported) / len(reported)) / mean


def positive(value: object) -> bool:
    return not missing(value) and float(value) > 0  # type: ignore[arg-type]


def latest(records: list[Record], by: str = "period") -> Record | None:
    return max(records, key=lambda r: r[by]) if records else None


def value_of(record: Record | None, column: str) -> float:
    if record is None or missing(record[column]):
        return NAN
    return float(record[column])


# --- the records of one enterprise, and the versions held on d ------------------------------------------------


def enterprise_records(tables: object, uscc: str) -> Records:
    """Every row (all versions) of every source that belongs to ``uscc``, as plain dicts."""
    return {source: [r for r in getattr(tables, source).to_dict("records") if r["uscc"] == uscc]
            for source in SOURCE_NAMES}


def records_by_enterprise(tables: object) -> dict[str, Records]:
    """``enterprise_records`` for every enterprise at once (one pass over each table)."""
    out: dict[str, Records] = defaultdict(lambda: {source: [] for source in SOURCE_NAMES})
    for source in SOURCE_NAMES:
        for r in getattr(tables, source).to_dict("records"):
            out[r["uscc"]][source].append(r)
    return dict(out)


def held(records: Iterable[Record], source: str, as_of: pd.Timestamp) -> list[Record]:
    """The versions the platform held on d: event and availability on or before d, not superseded by d."""
    event, available = DATES[source]
    return [r for r in records
            if r[event] <= as_of and r[available] <= as_of
            and (missing(r["_superseded_on"]) or r["_superseded_on"] > as_of)]


def registration_held(records: Records, as_of: pd.Timestamp) -> Record | None:
    """The registration version held on d (at most one: the key is the USCC)."""
    versions = held(records["registration"], "registration", as_of)
    if len(versions) > 1:
        raise AssertionError(f"{len(versions)} registration versions held on {as_of:%Y-%m-%d}")
    return versions[0] if versions else None


def is_open(records: Records, as_of: pd.Timestamp) -> bool:
    """Registered (held, founded by d) and not 注销/吊销 with status_on on or before d."""
    reg = registration_held(records, as_of)
    if reg is None:
        return False
    return not (reg["status"] in CLOSED and not missing(reg["status_on"]) and reg["status_on"] <= as_of)


def reference_is_open(tables: object, uscc: str, as_of: pd.Timestamp) -> bool:
    """Whether ``profile_as_of`` must hold a row for ``uscc`` on ``as_of``."""
    return is_open(enterprise_records(tables, uscc), as_of)


def reference_profile(tables: object, uscc: str, as_of: pd.Timestamp) -> dict[str, float]:
    """All catalogue features of ``uscc`` as of ``as_of``, the slow way."""
    return profile_from_records(enterprise_records(tables, uscc), as_of)


def profile_from_records(records: Records, as_of: pd.Timestamp) -> dict[str, float]:
    """All catalogue features from one enterprise's records (every version), as of ``as_of``."""
    as_of = pd.Timestamp(as_of)
    reg = registration_held(records, as_of)
    if reg is None:
        raise LookupError(f"no registration held on {as_of:%Y-%m-%d}")
    now = {source: held(rows, source, as_of) for source, rows in records.items()}
    out: dict[str, float] = {}
    out.update(registration_features(reg, as_of))
    out.update(tax_features(now["tax_monthly"], records["tax_monthly"], as_of))
    out.update(grade_features(now["tax_credit_grade"], as_of))
    out.update(social_features(now["social_insurance_monthly"], now["housing_fund_monthly"], as_of))
    out.update(utility_features(now["utilities_monthly"], as_of))
    out.update(admin_features(now["admin_records"], as_of))
    out.update(judicial_features(now["judicial"], as_of))
    out.update(list_features(now["list_entries"], as_of))
    out.update(commitment_features(now["commitments"], as_of))
    out.update(per_head_features(now["tax_monthly"], now["utilities_monthly"], now["social_insurance_monthly"],
                                 out["headcount_latest"], as_of))
    if set(out) != set(FEATURE_NAMES):
        raise AssertionError(f"reference covers {sorted(set(out) ^ set(FEATURE_NAMES))} wrongly")
    return {name: float(out[name]) for name in FEATURE_NAMES}


# --- features, source by source -------------------------------------------------------------------------------


def registration_features(reg: Record, as_of: pd.Timestamp) -> dict[str, float]:
    industry = str(reg["industry"])
    division = industry[1:3]
    return {
        "age_months": months_between(reg["founded_on"], as_of),
        "registered_capital_log": math.log1p(float(reg["registered_capital"])),
        "size_class_code": SIZE_CODES[reg["size_class"]],
        "industry_section_code": float(ord(industry[0]) - ord("A") + 1),
        "industry_division_code": float(int(division)) if division.isdigit() else NAN,
        "region_province_code": float(int(str(reg["region_code"])[:2])),
        "enterprise_type_code": float(ENTERPRISE_TYPES.index(reg["enterprise_type"])),
    }


def _first_filed_on(all_versions: list[Record], period: pd.Timestamp, as_of: pd.Timestamp) -> pd.Timestamp:
    """The earliest filed_on of the filing for ``period`` among the versions available by d (READING 6)."""
    return min(r["filed_on"] for r in all_versions if r["period"] == period and r["filed_on"] <= as_of)


def tax_features(tax: list[Record], all_versions: list[Record], as_of: pd.Timestamp) -> dict[str, float]:
    last12 = in_months(tax, as_of, 0, 11)
    sales = [r["invoiced_sales"] for r in last12]
    sales_12m = total(sales)
    tax_paid = total([r["vat"] for r in last12] + [r["cit"] for r in last12])  # READING 3
    latest_filing = latest(last12)
    late = 0
    for r in last12:
        deadline = r["period"] + pd.DateOffset(months=1) + pd.Timedelta(days=14)  # the 15th of the next month
        if _first_filed_on(all_versions, r["period"], as_of) > deadline:
            late += 1
    last_period = latest(tax)
    return {
        "sales_12m_log": log1p(sales_12m),
        "sales_yoy_growth": change(sales_12m, total(r["invoiced_sales"] for r in in_months(tax, as_of, 12, 23))),
        "sales_growth_6m": change(total(r["invoiced_sales"] for r in in_months(tax, as_of, 0, 5)),
                                  total(r["invoiced_sales"] for r in in_months(tax, as_of, 6, 11))),
        "sales_volatility_12m": volatility(sales),
        "zero_sales_months_12m": float(sum(1 for v in sales if not missing(v) and v == 0)),
        "tax_filed_months_12m": float(len(last12)),
        "tax_paid_months_12m": float(sum(1 for r in last12 if total([r["vat"], r["cit"]]) > 0)),
        "tax_paid_12m_log": log1p(tax_paid),
        "tax_burden_12m": ratio(tax_paid, sales_12m),
        "tax_overdue_months_12m": float(sum(1 for r in last12 if positive(r["overdue_tax"]))),
        "tax_overdue_months_36m": float(sum(1 for r in in_months(tax, as_of, 0, 35) if positive(r["overdue_tax"]))),
        "tax_overdue_latest_log": log1p(value_of(latest_filing, "overdue_tax")),  # READING 5
        "months_since_last_filing": NAN if last_period is None else float(months_back(last_period["period"], as_of)),
        "tax_late_filings_12m": float(late),
    }


def grade_features(grades: list[Record], as_of: pd.Timestamp) -> dict[str, float]:
    newest = latest(grades, by="year")
    recent = [r for r in grades if r["year"].year >= as_of.year - 3]
    return {
        "tax_grade_code": NAN if newest is None else GRADE_CODES[newest["grade"]],
        "tax_grade_worst_3y": max((GRADE_CODES[r["grade"]] for r in recent), default=NAN),
        "tax_grade_a_years_3y": float(sum(1 for r in recent if r["grade"] == "A")),
    }


def _contributions(prefix: str, records: list[Record], as_of: pd.Timestamp) -> dict[str, float]:
    last12 = in_months(records, as_of, 0, 11)
    return {
        f"{prefix}_months_12m": float(len(last12)),
        f"{prefix}_arrears_months_12m": float(sum(1 for r in last12 if positive(r["arrears"]))),
        f"{prefix}_arrears_months_36m": float(sum(1 for r in in_months(records, as_of, 0, 35)
                                                  if positive(r["arrears"]))),
        f"{prefix}_paid_ratio_12m": ratio(total(r["contribution_paid"] for r in last12),
                                          total(r["contribution_due"] for r in last12)),
    }


def _headcount_change(si: list[Record], newest: Record | None, months: int) -> float:
    if newest is None:
        return NAN
    before = newest["period"] - pd.DateOffset(months=months)
    base = [r for r in si if r["period"] == before]
    return change(value_of(newest, "insured_headcount"), value_of(base[0] if base else None, "insured_headcount"))


def mean_headcount(si: list[Record], as_of: pd.Timestamp, farthest: int) -> float:
    """Mean insured_headcount reported in months 0 … ``farthest`` back; NaN when none is reported."""
    heads = [float(r["insured_headcount"]) for r in in_months(si, as_of, 0, farthest)
             if not missing(r["insured_headcount"])]
    return math.fsum(heads) / len(heads) if heads else NAN


def social_features(si: list[Record], hf: list[Record], as_of: pd.Timestamp) -> dict[str, float]:
    newest = latest(in_months(si, as_of, 0, 2))
    headcount = value_of(newest, "insured_headcount")
    contributors = value_of(latest(in_months(hf, as_of, 0, 2)), "contributors")
    out = {
        "headcount_latest": headcount,
        "headcount_change_6m": _headcount_change(si, newest, 6),
        "headcount_change_12m": _headcount_change(si, newest, 12),
        "headcount_change_vs_mean_12m": change(headcount, mean_headcount(si, as_of, 11)),
        "headcount_change_vs_mean_36m": change(headcount, mean_headcount(si, as_of, 35)),
        **_contributions("si", si, as_of),
        "si_arrears_months_3m": float(sum(1 for r in in_months(si, as_of, 0, 2) if positive(r["arrears"]))),
        "si_arrears_months_6m": float(sum(1 for r in in_months(si, as_of, 0, 5) if positive(r["arrears"]))),
        "si_arrears_latest_log": log1p(value_of(latest(in_months(si, as_of, 0, 11)), "arrears")),
        "hf_contributors_latest": contributors,
        # NaN when either is missing or the headcount is 0
        "hf_coverage_ratio": ratio(contributors, headcount),
        **_contributions("hf", hf, as_of),
    }
    return out


def per_head_features(tax: list[Record], util: list[Record], si: list[Record], headcount: float,
                      as_of: pd.Timestamp) -> dict[str, float]:
    """Recent sales and electricity, in total and as a monthly mean per insured person (months 1–3 back), and
    each utility's monthly mean per insured person over the last 12 months (and, for electricity and water, over
    the last 36 against the mean headcount of those months)."""
    def recent(rows: list[Record], column: str) -> list[float]:
        return [float(r[column]) for r in in_months(rows, as_of, 1, 3) if not missing(r[column])]

    sales = recent(tax, "invoiced_sales")
    power = recent([r for r in util if r["kind"] == "electricity"], "quantity")

    def year_of(kind: str, farthest: int = 11) -> list[float]:
        return [float(r["quantity"]) for r in in_months(util, as_of, 0, farthest)
                if r["kind"] == kind and not missing(r["quantity"])]

    def mean(values: list[float]) -> float:
        return math.fsum(values) / len(values) if values else NAN

    return {
        "sales_3m_log": log1p(total(sales)),
        "sales_per_head_3m_log": log1p(ratio(mean(sales), headcount)),
        "electricity_3m_log": log1p(total(power)),
        "electricity_per_head_3m_log": log1p(ratio(mean(power), headcount)),
        "electricity_per_head_12m_log": log1p(ratio(mean(year_of("electricity")), headcount)),
        "water_per_head_12m_log": log1p(ratio(mean(year_of("water")), headcount)),
        "gas_per_head_12m_log": log1p(ratio(mean(year_of("gas")), headcount)),
        "electricity_per_head_36m_log": log1p(ratio(mean(year_of("electricity", 35)), mean_headcount(si, as_of, 35))),
        "water_per_head_36m_log": log1p(ratio(mean(year_of("water", 35)), mean_headcount(si, as_of, 35))),
    }


def utility_features(util: list[Record], as_of: pd.Timestamp) -> dict[str, float]:
    last12 = in_months(util, as_of, 0, 11)
    power = [r for r in util if r["kind"] == "electricity"]
    power12 = in_months(power, as_of, 0, 11)

    def used(nearest: int, farthest: int) -> float:
        return total(r["quantity"] for r in in_months(power, as_of, nearest, farthest))

    return {
        "electricity_12m_log": log1p(total(r["quantity"] for r in power12)),
        "electricity_change_6m": change(used(1, 3), used(7, 9)),
        "electricity_yoy_change": change(used(1, 3), used(13, 15)),
        "electricity_volatility_12m": volatility(r["quantity"] for r in power12),
        "water_12m_log": log1p(total(r["quantity"] for r in last12 if r["kind"] == "water")),
        "gas_12m_log": log1p(total(r["quantity"] for r in last12 if r["kind"] == "gas")),
        "utility_kinds_12m": float(len({r["kind"] for r in last12})),
        "utility_late_months_3m": float(len({r["period"] for r in in_months(last12, as_of, 0, 2)
                                              if positive(r["days_late"])})),
        "utility_late_months_12m": float(len({r["period"] for r in last12 if positive(r["days_late"])})),
        "utility_late_months_36m": float(len({r["period"] for r in in_months(util, as_of, 0, 35)
                                              if positive(r["days_late"])})),
        "utility_days_late_max_12m": max((float(r["days_late"]) for r in last12 if not missing(r["days_late"])),
                                         default=NAN),
        "utility_paid_ratio_12m": ratio(total(r["amount_paid"] for r in last12),
                                        total(r["amount_billed"] for r in last12)),
    }


def publication_end(penalty: Record) -> pd.Timestamp:
    """The first day a penalty is no longer published (READING 7)."""
    start = penalty["decision_date"] if missing(penalty["published_on"]) else penalty["published_on"]
    severity = "一般" if missing(penalty["severity"]) else penalty["severity"]
    return start + pd.DateOffset(months=PUBLICATION_MONTHS[severity])


def penalty_counts(penalty: Record, as_of: pd.Timestamp) -> bool:
    """A held 处罚 still counts on d: not revoked, not repaired by d, still within its publication period."""
    if penalty["status"] == "已撤销":
        return False
    if penalty["status"] == "已修复" and not missing(penalty["repaired_on"]) and penalty["repaired_on"] <= as_of:
        return False  # READING 8: a repair dated after d does not count yet
    return as_of < publication_end(penalty)


def admin_features(admin: list[Record], as_of: pd.Timestamp) -> dict[str, float]:
    active = [r for r in admin if r["kind"] == "处罚" and penalty_counts(r, as_of)]

    def severity(r: Record) -> str:
        return "一般" if missing(r["severity"]) else str(r["severity"])

    def decided_since(kind: str, months: int) -> float:
        since = as_of - pd.DateOffset(months=months)
        return float(sum(1 for r in admin if r["kind"] == kind and r["decision_date"] > since))

    last_decision = max((r["decision_date"] for r in active), default=None)
    since12 = as_of - pd.DateOffset(months=12)
    return {
        "penalties_active": float(len(active)),
        "penalties_minor_active": float(sum(1 for r in active if severity(r) == "轻微")),
        "penalties_general_active": float(sum(1 for r in active if severity(r) == "一般")),
        "penalties_severe_active": float(sum(1 for r in active if severity(r) == "严重")),
        "penalties_12m": float(sum(1 for r in active if r["decision_date"] > since12)),
        # missing_means "never": a penalty without a fine (a warning) adds 0 (READING 1)
        "penalty_amount_active_log": math.log1p(math.fsum(float(r["amount"]) for r in active
                                                          if not missing(r["amount"]))),
        "months_since_last_penalty": NAN if last_decision is None else months_between(last_decision, as_of),
        "licences_24m": decided_since("许可", 24),
        "licences_total": float(sum(1 for r in admin if r["kind"] == "许可")),
        "awards_36m": decided_since("奖励", 36),
        "inspections_12m": decided_since("监督检查", 12),
        "coercive_measures_12m": decided_since("强制", 12),
    }


def _open(entries: list[Record], start: str, end: str, as_of: pd.Timestamp) -> list[Record]:
    """READING 9: started on or before d, and not ended by d."""
    return [r for r in entries if r[start] <= as_of and (missing(r[end]) or r[end] > as_of)]


def judicial_features(judicial: list[Record], as_of: pd.Timestamp) -> dict[str, float]:
    live = _open(judicial, "listed_on", "removed_on", as_of)
    return {
        "dishonest_debtor_active": float(any(r["kind"] == "失信被执行人" for r in live)),
        "enforcement_cases_active": float(sum(1 for r in live if r["kind"] == "被执行人")),
        "enforcement_amount_active_log": math.log1p(math.fsum(float(r["amount"]) for r in live
                                                              if not missing(r["amount"]))),
    }


def list_features(entries: list[Record], as_of: pd.Timestamp) -> dict[str, float]:
    live = _open(entries, "entered_on", "exited_on", as_of)

    def on(name: str) -> list[Record]:
        return [r for r in live if r["list_name"] == name]

    first_abnormal = min((r["entered_on"] for r in on("abnormal")), default=None)
    return {
        "abnormal_list_active": float(bool(on("abnormal"))),
        "abnormal_list_months": NAN if first_abnormal is None else months_between(first_abnormal, as_of),
        "black_list_active": float(bool(on("black"))),
        "focus_list_active": float(bool(on("focus"))),
        "red_list_active": float(bool(on("red"))),
    }


def commitment_features(commitments: list[Record], as_of: pd.Timestamp) -> dict[str, float]:
    def resolved(r: Record) -> bool:  # READING 10
        return r["fulfilment"] in ("kept", "broken") and not missing(r["resolved_on"]) and r["resolved_on"] <= as_of

    decided = [r for r in commitments if resolved(r)]
    kept = sum(1 for r in decided if r["fulfilment"] == "kept")
    since36 = as_of - pd.DateOffset(months=36)
    return {
        "commitments_36m": float(sum(1 for r in commitments if r["committed_on"] > since36)),
        "commitments_kept_ratio": kept / len(decided) if decided else NAN,
        "commitments_broken_36m": float(sum(1 for r in decided
                                            if r["fulfilment"] == "broken" and r["resolved_on"] > since36)),
        "commitments_pending": float(sum(1 for r in commitments if not resolved(r))),
    }


def profiles_by_reference(tables: object, as_of: pd.Timestamp,
                          grouped: Mapping[str, Records] | None = None) -> dict[str, dict[str, float]]:
    """The reference profile of every enterprise open on ``as_of``, keyed by USCC."""
    grouped = records_by_enterprise(tables) if grouped is None else grouped
    return {uscc: profile_from_records(records, as_of) for uscc, records in grouped.items()
            if is_open(records, as_of)}
