"""The shared subset: twelve catalogue features of registration, tax, social insurance and utilities that the
profile bench also computes with one DuckDB query (bench/profile_build.py), as the yardstick for our path.

``SUBSET`` is a ``features.profiles.FeatureSet``: the same partitions, encoding, engines and building blocks as
the catalogue, reading only the columns these features need and computing only them. Each feature equals the
catalogue's feature of the same name (tests/features/test_profile_subset.py checks it on a generated region).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features import profile_monthly as monthly
from features import profile_records as records
from features.catalogue import CATALOGUE_VERSION
from features.profile_columns import NAT, Encoded, Floats, Mask, log_sum, months_since, ratio
from features.profiles import FeatureSet, Sources

SUBSET_FEATURES = (
    "age_months", "registered_capital_log", "sales_12m_log", "tax_filed_months_12m", "tax_overdue_months_12m",
    "tax_burden_12m", "si_arrears_months_12m", "si_paid_ratio_12m", "headcount_latest",
    "utility_late_months_12m", "electricity_12m_log", "utility_days_late_max_12m",
)
SUBSET_COLUMNS: dict[str, tuple[str, ...]] = {
    "registration": ("founded_on", "registered_capital", "status", "status_on"),
    "tax_monthly": ("vat", "cit", "invoiced_sales", "overdue_tax"),
    "social_insurance_monthly": ("insured_headcount", "contribution_due", "contribution_paid", "arrears"),
    "utilities_monthly": ("kind", "quantity", "days_late"),
}


def prepare(source: str, encoded: Encoded) -> Encoded:
    """The derived columns these features read (a subset of the catalogue's ``prepare``)."""
    c = encoded.columns
    if source == "registration":
        c["closing"] = np.isin(c["status"], records.CLOSING_STATUSES)
    elif source == "tax_monthly":
        c["tax_paid"] = monthly.tax_paid(c["vat"], c["cit"])
    elif source == "utilities_monthly":
        c["is_electricity"] = c["kind"] == "electricity"
    return encoded


def subset_features(s: Sources, as_of: pd.Timestamp) -> tuple[Mask, dict[str, Floats]]:
    """The open enterprises and the twelve features, by the catalogue's definitions."""
    reg = s["registration"]
    open_rows = records.open_registrations(reg, as_of)
    out = {
        "age_months": months_since(as_of, reg.last(reg["founded_on"], open_rows, fill=NAT)),
        "registered_capital_log": np.log1p(reg.last(reg["registered_capital"], open_rows)),
    }
    tax = s["tax_monthly"]
    last12 = tax.in_months(tax.held(as_of), as_of, 0, 11)
    sales12 = tax.sum_reported(tax["invoiced_sales"], last12)
    out.update({
        "sales_12m_log": log_sum(sales12),
        "tax_filed_months_12m": tax.count(last12),
        "tax_overdue_months_12m": tax.count(last12 & (tax["overdue_tax"] > 0)),
        "tax_burden_12m": ratio(tax.sum_reported(tax["tax_paid"], last12), sales12),
    })
    si = s["social_insurance_monthly"]
    held = si.held(as_of)
    last12 = si.in_months(held, as_of, 0, 11)
    out.update({
        "si_arrears_months_12m": si.count(last12 & (si["arrears"] > 0)),
        "si_paid_ratio_12m": ratio(si.sum_reported(si["contribution_paid"], last12),
                                   si.sum_reported(si["contribution_due"], last12)),
        "headcount_latest": si.last(si["insured_headcount"], si.in_months(held, as_of, 0, 2)),
    })
    util = s["utilities_monthly"]
    last12 = util.in_months(util.held(as_of), as_of, 0, 11)
    out.update({
        "utility_late_months_12m": util.distinct_months(last12 & (util["days_late"] > 0)),
        "electricity_12m_log": log_sum(util.sum_reported(util["quantity"], last12 & util["is_electricity"])),
        "utility_days_late_max_12m": util.maximum(util["days_late"], last12),
    })
    return reg.any(open_rows) > 0, out


SUBSET = FeatureSet("duckdb-subset", f"{CATALOGUE_VERSION}+duckdb-subset", SUBSET_FEATURES, SUBSET_COLUMNS,
                    prepare, subset_features)
