"""Profile features of the monthly sources: tax filings and grades, social insurance, housing fund, utilities.

Each function takes one source encoded for a partition (``features.profile_columns.Encoded``) and an as-of date
and returns one array per catalogue feature, indexed by enterprise. Definitions: ``features.catalogue_specs``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.profile_columns import Encoded, Floats, change, log_sum, lookup, month_of, ratio
from features.schemas import TAX_CREDIT_GRADES

COLUMNS: dict[str, tuple[str, ...]] = {
    "tax_monthly": ("vat", "cit", "invoiced_sales", "overdue_tax", "filed_on"),
    "tax_credit_grade": ("year", "grade"),
    "social_insurance_monthly": ("insured_headcount", "contribution_due", "contribution_paid", "arrears"),
    "housing_fund_monthly": ("contributors", "contribution_due", "contribution_paid", "arrears"),
    "utilities_monthly": ("kind", "quantity", "amount_billed", "amount_paid", "days_late"),
}
ORDER_BY = {"tax_credit_grade": "year"}
"""Sources whose rows are ordered by another column than their event date."""
GRADE_CODE = {grade: float(code) for code, grade in enumerate(TAX_CREDIT_GRADES)}


PER_HEAD_INPUTS = {"sales_per_head_3m_log": "_sales_3m_mean", "electricity_per_head_3m_log": "_electricity_3m_mean",
                   "electricity_per_head_12m_log": "_electricity_12m_mean", "water_per_head_12m_log": "_water_12m_mean",
                   "gas_per_head_12m_log": "_gas_12m_mean"}
"""Per-head features and the monthly means they divide by the insured headcount (``per_head_features``)."""
LONG_RUN_PER_HEAD_INPUTS = {"electricity_per_head_36m_log": "_electricity_36m_mean",
                            "water_per_head_36m_log": "_water_36m_mean"}
"""Per-head features over 36 months: monthly means divided by the mean insured headcount of the same months."""


def per_head_features(out: dict[str, Floats]) -> dict[str, Floats]:
    """Sales and utilities per insured person: pops the monthly means the source functions left in ``out``."""
    headcount, usual = out["headcount_latest"], out.pop("_headcount_36m_mean")
    return {**{name: log_sum(ratio(out.pop(mean), headcount)) for name, mean in PER_HEAD_INPUTS.items()},
            **{name: log_sum(ratio(out.pop(mean), usual)) for name, mean in LONG_RUN_PER_HEAD_INPUTS.items()}}


def prepare(source: str, encoded: Encoded) -> Encoded:
    """Derived columns computed once per partition rather than once per as-of date."""
    c = encoded.columns
    if source == "tax_monthly":
        c["tax_paid"] = tax_paid(c["vat"], c["cit"])
        c["first_filed_on"] = _first_per_period(encoded, c["filed_on"])
        # Filing deadline: the 15th of the month after the period.
        periods = pd.to_datetime(c["period"].view("datetime64[ns]"))
        c["deadline"] = ((periods + pd.DateOffset(months=1)) + pd.Timedelta(days=14)).to_numpy().view(np.int64)
    elif source == "tax_credit_grade":
        c["grade_code"] = lookup(c["grade"], GRADE_CODE)
        c["grade_year"] = pd.DatetimeIndex(c["year"].view("datetime64[ns]")).year.to_numpy(np.float64)
    elif source == "utilities_monthly":
        for kind in ("electricity", "water", "gas"):
            c[f"is_{kind}"] = c["kind"] == kind
    return encoded


def tax_paid(vat: Floats, cit: Floats) -> Floats:
    """VAT plus CIT of a filing, a missing one counting 0; NaN only when neither is reported."""
    neither = np.isnan(vat) & np.isnan(cit)
    return np.where(neither, np.nan, np.nan_to_num(vat) + np.nan_to_num(cit))


def _first_per_period(rows: Encoded, dates: np.ndarray) -> np.ndarray:
    """Per row, the earliest of ``dates`` among the versions of its (enterprise, period): when it was first
    filed, so an amended filing (更正申报) does not make an on-time filing late. Versions are adjacent."""
    if not dates.size:
        return dates
    keys = rows.enterprise * 100_000 + rows["month"]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    earliest = np.minimum.reduceat(dates, starts)
    return np.repeat(earliest, np.diff(np.r_[starts, keys.size]))


def tax_features(tax: Encoded, as_of: pd.Timestamp) -> dict[str, Floats]:
    """纳税: sales level, growth and volatility; filing, paying and overdue months; tax burden."""
    held = tax.held(as_of)
    last12 = tax.in_months(held, as_of, 0, 11)
    sales, paid = tax["invoiced_sales"], tax["tax_paid"]
    sales12, paid12 = tax.sum_reported(sales, last12), tax.sum_reported(paid, last12)
    latest_month = tax.last(tax["month"], held, fill=-1)
    recent = tax.in_months(held, as_of, 1, 3)
    sales3 = tax.sum_reported(sales, recent)
    return {
        "sales_12m_log": log_sum(sales12),
        "sales_3m_log": log_sum(sales3),
        PER_HEAD_INPUTS["sales_per_head_3m_log"]: ratio(sales3, tax.reported(sales, recent)),
        "sales_yoy_growth": change(sales12, tax.sum_reported(sales, tax.in_months(held, as_of, 12, 23))),
        "sales_growth_6m": change(tax.sum_reported(sales, tax.in_months(held, as_of, 0, 5)),
                                  tax.sum_reported(sales, tax.in_months(held, as_of, 6, 11))),
        "sales_volatility_12m": tax.variation(sales, last12),
        "zero_sales_months_12m": tax.count(last12 & (sales == 0)),
        "tax_filed_months_12m": tax.count(last12),
        "tax_paid_months_12m": tax.count(last12 & (paid > 0)),
        "tax_paid_12m_log": log_sum(paid12),
        "tax_burden_12m": ratio(paid12, sales12),
        "tax_overdue_months_12m": tax.count(last12 & (tax["overdue_tax"] > 0)),
        "tax_overdue_months_36m": tax.count(tax.in_months(held, as_of, 0, 35) & (tax["overdue_tax"] > 0)),
        "tax_overdue_latest_log": np.log1p(tax.last(tax["overdue_tax"], last12)),
        "months_since_last_filing": np.where(latest_month >= 0, month_of(as_of) - latest_month, np.nan),
        "tax_late_filings_12m": tax.count(last12 & (tax["first_filed_on"] > tax["deadline"])),
    }


def tax_grade_features(grades: Encoded, as_of: pd.Timestamp) -> dict[str, Floats]:
    """纳税信用级别: the grade of the latest year held, the worst and the A grades of the last three years.

    Grades are encoded in year order (``ORDER_BY``), so the last row held is the latest year's grade.
    """
    held = grades.held(as_of)
    recent = held & (grades["grade_year"] >= as_of.year - 3)
    code = grades["grade_code"]
    return {
        "tax_grade_code": grades.last(code, held),
        "tax_grade_worst_3y": grades.maximum(code, recent),
        "tax_grade_a_years_3y": grades.count(recent & (code == GRADE_CODE["A"])),
    }


def _contribution_features(rows: Encoded, as_of: pd.Timestamp, prefix: str) -> dict[str, Floats]:
    """Months with records, months in arrears and the share paid over the last 12 months (社保 and 公积金)."""
    held = rows.held(as_of)
    last12 = rows.in_months(held, as_of, 0, 11)
    arrears = rows["arrears"] > 0
    return {
        f"{prefix}_months_12m": rows.count(last12),
        f"{prefix}_arrears_months_12m": rows.count(last12 & arrears),
        f"{prefix}_arrears_months_36m": rows.count(rows.in_months(held, as_of, 0, 35) & arrears),
        f"{prefix}_paid_ratio_12m": ratio(rows.sum_reported(rows["contribution_paid"], last12),
                                          rows.sum_reported(rows["contribution_due"], last12)),
    }


def social_insurance_features(si: Encoded, as_of: pd.Timestamp) -> dict[str, Floats]:
    """社保: latest headcount and its change over 6 and 12 months, arrears months and amounts, share paid."""
    out = _contribution_features(si, as_of, "si")
    held = si.held(as_of)
    last3 = si.in_months(held, as_of, 0, 2)
    headcount = si["insured_headcount"]
    latest = si.last(headcount, last3)
    latest_month = si.last(si["month"].astype(np.float64), last3)
    arrears = si["arrears"] > 0
    for months in (6, 12):
        base = si.at_month(headcount, held, latest_month - months)
        out[f"headcount_change_{months}m"] = np.where(base > 0, latest / np.where(base > 0, base, 1.0) - 1.0,
                                                      np.nan)
    out["headcount_latest"] = latest
    usual = {months: si.mean_reported(headcount, si.in_months(held, as_of, 0, months - 1)) for months in (12, 36)}
    for months, mean in usual.items():
        out[f"headcount_change_vs_mean_{months}m"] = ratio(latest, mean) - 1.0
    out["_headcount_36m_mean"] = usual[36]  # per_head_features divides long-run utility use by it
    out["si_arrears_months_3m"] = si.count(last3 & arrears)
    out["si_arrears_months_6m"] = si.count(si.in_months(held, as_of, 0, 5) & arrears)
    out["si_arrears_latest_log"] = np.log1p(si.last(si["arrears"], si.in_months(held, as_of, 0, 11)))
    return out


def housing_fund_features(hf: Encoded, as_of: pd.Timestamp, headcount_latest: Floats) -> dict[str, Floats]:
    """公积金: latest contributors, their share of the insured headcount, months, arrears, share paid."""
    out = _contribution_features(hf, as_of, "hf")
    contributors = hf.last(hf["contributors"], hf.in_months(hf.held(as_of), as_of, 0, 2))
    out["hf_contributors_latest"] = contributors
    out["hf_coverage_ratio"] = np.where(np.isnan(contributors), np.nan, ratio(contributors, headcount_latest))
    return out


def utilities_features(util: Encoded, as_of: pd.Timestamp) -> dict[str, Floats]:
    """水电气: electricity level, trend and volatility; water and gas; kinds billed; late payments; share paid."""
    held = util.held(as_of)
    last12, last36 = util.in_months(held, as_of, 0, 11), util.in_months(held, as_of, 0, 35)
    power, water, gas = util["is_electricity"], util["is_water"], util["is_gas"]
    quantity = util["quantity"]
    recent_power = util.in_months(held, as_of, 1, 3) & power
    recent_use = util.sum_reported(quantity, recent_power)
    late = util["days_late"] > 0
    kinds = sum(util.any(last12 & util[f"is_{kind}"]) for kind in ("electricity", "water", "gas"))
    return {
        "electricity_12m_log": log_sum(util.sum_reported(quantity, last12 & power)),
        "electricity_3m_log": log_sum(recent_use),
        PER_HEAD_INPUTS["electricity_per_head_3m_log"]: ratio(recent_use, util.reported(quantity, recent_power)),
        "electricity_change_6m": change(recent_use, util.sum_reported(quantity, util.in_months(held, as_of, 7, 9)
                                                                      & power)),
        "electricity_yoy_change": change(recent_use, util.sum_reported(quantity, util.in_months(held, as_of, 13, 15)
                                                                       & power)),
        "electricity_volatility_12m": util.variation(quantity, last12 & power),
        "water_12m_log": log_sum(util.sum_reported(quantity, last12 & water)),
        "gas_12m_log": log_sum(util.sum_reported(quantity, last12 & gas)),
        "utility_kinds_12m": np.asarray(kinds, dtype=np.float64),
        "utility_late_months_3m": util.distinct_months(util.in_months(held, as_of, 0, 2) & late),
        "utility_late_months_12m": util.distinct_months(last12 & late),
        "utility_late_months_36m": util.distinct_months(last36 & late),
        "utility_days_late_max_12m": util.maximum(util["days_late"], last12),
        "utility_paid_ratio_12m": ratio(util.sum_reported(util["amount_paid"], last12),
                                        util.sum_reported(util["amount_billed"], last12)),
        **{PER_HEAD_INPUTS[f"{k}_per_head_12m_log"]: util.mean_reported(quantity, last12 & util[f"is_{k}"])
           for k in ("electricity", "water", "gas")},
        **{LONG_RUN_PER_HEAD_INPUTS[f"{k}_per_head_36m_log"]: util.mean_reported(quantity, last36 & util[f"is_{k}"])
           for k in ("electricity", "water")},
    }
