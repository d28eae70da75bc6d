"""Default outcomes reported back by banks (回传), and the 12-month default label of each application.

An application is a profile on an as-of date. Its label is 1 when the enterprise first went 90+ days past
due in the 12 months after that date. Enterprises already in default on the as-of date are not applications,
and as-of dates whose 12 months are not yet over are left out rather than labelled good too early.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

DEFAULT_HORIZON_MONTHS = 12
LABEL = "default_12m"


def load_defaults(path: Path) -> pd.DataFrame:
    """Read reported defaults: uscc, default_month (first day of the month, datetime64), reported_on."""
    frame = pd.read_csv(path, dtype=str)
    return pd.DataFrame(
        {
            "uscc": frame["uscc"],
            "default_month": pd.to_datetime(frame["default_month"], format="%Y-%m"),
            "reported_on": pd.to_datetime(frame["reported_on"], format="%Y-%m-%d"),
        }
    )


def label_applications(
    profiles: pd.DataFrame,
    defaults: pd.DataFrame,
    *,
    observed_until: pd.Timestamp,
    horizon_months: int = DEFAULT_HORIZON_MONTHS,
) -> pd.DataFrame:
    """Attach ``default_12m`` to profiles; drop those already in default or with an unfinished horizon."""
    first = defaults.groupby("uscc")["default_month"].min()
    as_of_month = profiles["as_of"].dt.to_period("M").dt.to_timestamp()
    horizon_end = as_of_month + pd.DateOffset(months=horizon_months)
    default_month = profiles["uscc"].map(first)
    complete = horizon_end + pd.offsets.MonthEnd(0) <= observed_until
    already = default_month.notna() & (default_month <= as_of_month)
    labelled = profiles[complete & ~already].copy()
    dm = default_month[labelled.index]
    labelled[LABEL] = ((dm > as_of_month[labelled.index]) & (dm <= horizon_end[labelled.index])).astype(int)
    return labelled.reset_index(drop=True)
