"""Point-in-time enterprise profiles (企业画像): one row per enterprise per as-of date, from accepted records.

Every feature is a pure function of (records, as_of). Each source is first cut to what the platform could
have known on the as-of date (``features.asof``): the version of each record whose event date is on or before
it, that had arrived by then and was not yet corrected, so a late filing or a later correction cannot leak into
training. Repaired or expired penalties and list entries that ended stop counting, as the repair rules require.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.asof import PUBLICATION_MONTHS, counting_penalties, known_as_of, open_as_of
from features.catalogue import FEATURE_NAMES

SOURCES = (
    "registration",
    "tax_monthly",
    "social_insurance_monthly",
    "utilities_monthly",
    "admin_records",
    "judicial",
    "list_entries",
)
SIZE_CLASS_CODE = {"微": 0.0, "小": 1.0, "中": 2.0, "大": 3.0}
__all__ = ["PUBLICATION_MONTHS", "SOURCES", "SourceTables", "build_profiles", "profile_as_of"]


@dataclass(frozen=True)
class SourceTables:
    """The accepted records of every source, typed as ingest writes them."""

    registration: pd.DataFrame
    tax_monthly: pd.DataFrame
    social_insurance_monthly: pd.DataFrame
    utilities_monthly: pd.DataFrame
    admin_records: pd.DataFrame
    judicial: pd.DataFrame
    list_entries: pd.DataFrame

    @classmethod
    def from_accepted(cls, ingest_dir: Path) -> SourceTables:
        """Read the accepted Parquet tables that ``features.ingest`` wrote under ``ingest_dir``."""
        return cls(**{s: pd.read_parquet(ingest_dir / "accepted" / f"{s}.parquet") for s in SOURCES})


# --- point-in-time steps -------------------------------------------------------------------------------


def in_months(frame: pd.DataFrame, as_of: pd.Timestamp, first: int, last: int) -> pd.DataFrame:
    """Keep monthly rows whose period lies ``first``..``last`` months back from the as-of month (0 = it)."""
    month = as_of.to_period("M").to_timestamp()
    lo, hi = month - pd.DateOffset(months=first), month - pd.DateOffset(months=last)
    return frame[(frame["period"] >= lo) & (frame["period"] <= hi)]


def months_between(earlier: pd.Series, later: pd.Timestamp) -> pd.Series:
    """Whole and fractional months from each date to ``later``."""
    return (later - earlier).dt.days / 30.4375


# --- features by source ------------------------------------------------------------------------------


def registration_features(reg: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Age, capital and size of the enterprises known, founded and still open on the as-of date."""
    known = known_as_of(reg, "registration", as_of)
    known = known[known["founded_on"] <= as_of]
    closed = known["status"].isin(["注销", "吊销"]) & (known["status_on"] <= as_of)
    known = known[~closed]
    return pd.DataFrame(
        {
            "age_months": months_between(known["founded_on"], as_of).to_numpy(),
            "registered_capital_log": np.log1p(known["registered_capital"].to_numpy(dtype=float)),
            "size_class_code": known["size_class"].map(SIZE_CLASS_CODE).to_numpy(dtype=float),
        },
        index=pd.Index(known["uscc"].to_numpy(), name="uscc"),
    )


def tax_features(tax: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """纳税: 12-month sales, 6-on-6 sales change, filing months and overdue-tax months."""
    window = in_months(known_as_of(tax, "tax_monthly", as_of), as_of, 11, 0)
    by = window.groupby("uscc")
    recent = in_months(window, as_of, 5, 0).groupby("uscc")["invoiced_sales"].sum()
    prior_rows = in_months(window, as_of, 11, 6).groupby("uscc")["invoiced_sales"]
    prior = prior_rows.sum()
    out = pd.DataFrame(
        {
            "sales_12m_log": np.log1p(by["invoiced_sales"].sum()),
            "tax_filed_months_12m": by["period"].nunique().astype(float),
            "tax_overdue_months_12m": window[window["overdue_tax"] > 0].groupby("uscc")["period"].nunique(),
        }
    )
    growth = recent.reindex(prior.index).fillna(0.0) / prior - 1.0
    out["sales_growth_6m"] = growth.where(prior > 0)
    return out


def social_insurance_features(si: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """社保: latest headcount, its change over 6 months, and months in arrears."""
    window = in_months(known_as_of(si, "social_insurance_monthly", as_of), as_of, 11, 0)
    arrears = window[window["arrears"] > 0]
    latest = in_months(window, as_of, 2, 0).sort_values("period").groupby("uscc").tail(1)
    latest = latest.set_index("uscc")
    earlier_period = latest["period"] - pd.DateOffset(months=6)
    earlier = window.set_index(["uscc", "period"])["insured_headcount"]
    keys = pd.MultiIndex.from_arrays([latest.index, earlier_period])
    base = pd.Series(earlier.reindex(keys).to_numpy(), index=latest.index)
    return pd.DataFrame(
        {
            "headcount_latest": latest["insured_headcount"],
            "headcount_change_6m": (latest["insured_headcount"] / base - 1.0).where(base > 0),
            "si_arrears_months_12m": arrears.groupby("uscc")["period"].nunique(),
            "si_arrears_months_3m": in_months(arrears, as_of, 3, 0).groupby("uscc")["period"].nunique(),
        }
    )


def utilities_features(util: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """水电气: months with a late payment, and the change in electricity use over 6 months."""
    window = in_months(known_as_of(util, "utilities_monthly", as_of), as_of, 11, 0)
    late_rows = window[window["days_late"] > 0]
    late = late_rows.groupby("uscc")["period"].nunique()
    late_recent = in_months(late_rows, as_of, 3, 0).groupby("uscc")["period"].nunique()
    power = window[window["kind"] == "electricity"]
    recent = in_months(power, as_of, 3, 1).groupby("uscc")["quantity"].sum()
    base = in_months(power, as_of, 9, 7).groupby("uscc")["quantity"].sum()
    change = (recent.reindex(base.index) / base - 1.0).where(base > 0)
    return pd.DataFrame(
        {
            "utility_late_months_12m": late,
            "utility_late_months_3m": late_recent,
            "electricity_change_6m": change,
        }
    )


def admin_features(admin: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """双公示: penalties still within their publication period and not repaired; recent licences."""
    known = known_as_of(admin, "admin_records", as_of)
    active = counting_penalties(known, as_of)
    licences = known[(known["kind"] == "许可") & (known["decision_date"] > as_of - pd.DateOffset(months=24))]
    return pd.DataFrame(
        {
            "penalties_active": active.groupby("uscc").size(),
            "penalty_severe_active": active[active["severity"] == "严重"]
            .groupby("uscc")
            .size()
            .clip(upper=1),
            "licences_24m": licences.groupby("uscc").size(),
        }
    )


def judicial_features(jud: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """司法: dishonest-debtor listing and open enforcement cases on the as-of date."""
    live = open_as_of(jud, "judicial", as_of)
    return pd.DataFrame(
        {
            "dishonest_debtor_active": live[live["kind"] == "失信被执行人"]
            .groupby("uscc")
            .size()
            .clip(upper=1),
            "enforcement_cases_active": live[live["kind"] == "被执行人"].groupby("uscc").size(),
        }
    )


def list_features(lists: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """名单: membership of the abnormal-operations, black and red lists on the as-of date."""
    live = open_as_of(lists, "list_entries", as_of)
    on = {
        name: live[live["list_name"] == name].groupby("uscc").size().clip(upper=1)
        for name in ("abnormal", "black", "red")
    }
    return pd.DataFrame(
        {
            "abnormal_list_active": on["abnormal"],
            "black_list_active": on["black"],
            "red_list_active": on["red"],
        }
    )


_COUNTS_ZERO_WHEN_ABSENT = (
    "tax_filed_months_12m",
    "tax_overdue_months_12m",
    "si_arrears_months_12m",
    "si_arrears_months_3m",
    "utility_late_months_12m",
    "utility_late_months_3m",
    "penalties_active",
    "penalty_severe_active",
    "licences_24m",
    "dishonest_debtor_active",
    "enforcement_cases_active",
    "abnormal_list_active",
    "black_list_active",
    "red_list_active",
)


def profile_as_of(tables: SourceTables, as_of: pd.Timestamp) -> pd.DataFrame:
    """Profiles of every enterprise open on ``as_of``: columns uscc, as_of and FEATURE_NAMES (float64)."""
    base = registration_features(tables.registration, as_of)
    parts: list[pd.DataFrame | pd.Series] = [
        tax_features(tables.tax_monthly, as_of),
        social_insurance_features(tables.social_insurance_monthly, as_of),
        utilities_features(tables.utilities_monthly, as_of),
        admin_features(tables.admin_records, as_of),
        judicial_features(tables.judicial, as_of),
        list_features(tables.list_entries, as_of),
    ]
    frame = base.join(parts, how="left")
    # A count over records that do not exist is a true zero; a level or ratio without records stays NaN.
    frame[list(_COUNTS_ZERO_WHEN_ABSENT)] = frame[list(_COUNTS_ZERO_WHEN_ABSENT)].fillna(0.0)
    frame = frame.reindex(columns=list(FEATURE_NAMES)).astype("float64")
    frame.insert(0, "as_of", as_of)
    return frame.reset_index().rename(columns={"index": "uscc"})


def build_profiles(tables: SourceTables, as_of_dates: Iterable[pd.Timestamp]) -> pd.DataFrame:
    """Profiles at several as-of dates, stacked (the offline, training-side read)."""
    frames = [profile_as_of(tables, pd.Timestamp(d)) for d in as_of_dates]
    return pd.concat(frames, ignore_index=True)
