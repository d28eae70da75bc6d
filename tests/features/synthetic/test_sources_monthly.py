"""Monthly feeds and the tax grade: amended filings as later versions, and signal that follows health."""

from __future__ import annotations

import pandas as pd

from features.schemas import SOURCES_BY_NAME
from features.synthetic import RegionFiles
from tests.features.synthetic.conftest import feed_rows


def _defaulters(region: RegionFiles) -> set[str]:
    return set(pd.read_csv(region.outcomes_path, dtype=str)["uscc"])


def test_amended_tax_filings_are_later_versions_of_the_same_month(region: RegionFiles) -> None:
    tax = feed_rows(region, "tax_monthly")
    versions = tax[tax.duplicated(["uscc", "period"], keep=False)].sort_values(["uscc", "period", "filed_on"])
    assert 0.001 < versions.groupby(["uscc", "period"]).ngroups / len(tax) < 0.006
    for _, rows in versions.groupby(["uscc", "period"]):
        assert rows["filed_on"].is_unique
        assert (rows[["vat", "invoiced_sales"]].nunique() > 1).any()


def test_availability_follows_the_period(region: RegionFiles) -> None:
    for source in ("tax_monthly", "social_insurance_monthly", "housing_fund_monthly", "utilities_monthly"):
        rows = feed_rows(region, source)
        available = rows[SOURCES_BY_NAME[source].available]
        assert (available > rows["period"] + "-31").all(), source


def test_a_grade_per_year_evaluated_in_april_of_the_next(region: RegionFiles) -> None:
    grades = feed_rows(region, "tax_credit_grade")
    assert not grades.duplicated(["uscc", "year"]).any()
    evaluated = pd.to_datetime(grades["evaluated_on"])
    assert (evaluated.dt.month == 4).all()
    assert (evaluated.dt.year == grades["year"].astype(int) + 1).all()
    assert (grades["available_on"] > grades["evaluated_on"]).all()
    registration = feed_rows(region, "registration").drop_duplicates("uscc").set_index("uscc")
    founded_year = registration.loc[grades["uscc"], "founded_on"].str[:4].to_numpy()
    assert (grades.loc[founded_year == grades["year"].to_numpy(), "grade"] == "M").all()
    shares = grades["grade"].value_counts(normalize=True)
    assert shares["B"] > shares["A"] > shares["C"] > shares["D"] > 0
    # D stays rare; its share grows with the years since the generated history starts (4.0 % of this region's
    # grades over 52 months, 5.1 % over 64; 4.8 % in the 20,000-enterprise demo region)
    assert shares["D"] < 0.06


def test_low_grades_are_more_common_among_later_defaulters(region: RegionFiles) -> None:
    grades = feed_rows(region, "tax_credit_grade")
    defaulted = grades["uscc"].isin(_defaulters(region))
    low = grades["grade"].isin(["C", "D"])
    assert low[defaulted].mean() > 2 * low[~defaulted].mean()
    a_grade = grades["grade"] == "A"
    assert a_grade[~defaulted].mean() > 2 * a_grade[defaulted].mean()


def test_housing_fund_covers_the_larger_healthier_part_and_arrears_precede_defaults(region: RegionFiles) -> None:
    fund = feed_rows(region, "housing_fund_monthly")
    social = feed_rows(region, "social_insurance_monthly")
    assert 0.2 < fund["uscc"].nunique() / social["uscc"].nunique() < 0.8
    merged = fund.merge(social, on=["uscc", "period"])
    assert (merged["contributors"].astype(int) <= merged["insured_headcount"].astype(int)).all()
    heads = social.groupby("uscc")["insured_headcount"].apply(lambda s: s.astype(int).median())
    assert heads[heads.index.isin(fund["uscc"])].median() > heads[~heads.index.isin(fund["uscc"])].median()
    in_arrears = fund.groupby("uscc")["arrears"].apply(lambda s: (s.astype(float) > 0).mean())
    defaulted = in_arrears.index.isin(_defaulters(region))
    assert in_arrears[defaulted].mean() > 2 * in_arrears[~defaulted].mean()


def test_existing_signals_still_follow_defaults(region: RegionFiles) -> None:
    defaulters = _defaulters(region)
    social = feed_rows(region, "social_insurance_monthly")
    utilities = feed_rows(region, "utilities_monthly")
    tax = feed_rows(region, "tax_monthly")
    for rows, late in ((social, social["arrears"].astype(float) > 0),
                       (utilities, utilities["days_late"].astype(int) > 0),
                       (tax, tax["overdue_tax"].astype(float) > 0)):
        defaulted = rows["uscc"].isin(defaulters)
        assert late[defaulted].mean() > 2 * late[~defaulted].mean()
