"""The hidden world is in a steady state: health neither drifts over the timeline nor do defaulted enterprises
pile up, so a model trained on early years meets the same region later (and the tax grades do not drift)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.synthetic import HISTORY_MONTHS
from features.synthetic.population import (
    EXITS_AFTER_DEFAULT,
    SHOCK_DRIFT,
    Population,
    Timeline,
    build_population,
)
from features.synthetic.sources_monthly import tax_credit_grade, tax_monthly

END = pd.Timestamp("2026-10-31")


@pytest.fixture(scope="module")
def population() -> Population:
    months = pd.date_range(end=END.to_period("M").to_timestamp() - pd.offsets.MonthBegin(1),
                           periods=HISTORY_MONTHS, freq="MS")
    return build_population(np.random.default_rng(11), 8000, Timeline(months=months, extracted_on=END))


def _never_defaulted_by(pop: Population, t: int) -> np.ndarray:
    return (pop.default_month < 0) | (pop.default_month >= t)


def test_health_starts_where_the_shocks_hold_it(population: Population) -> None:
    gaps = [float(np.mean(population.health[_never_defaulted_by(population, t), t]
                          - population.mean_health[_never_defaulted_by(population, t)]))
            for t in (0, 12, 24, 36, 48, HISTORY_MONTHS - 1)]
    assert abs(gaps[0] - SHOCK_DRIFT) < 0.05  # not μ: the first month is already the steady state
    assert max(gaps) - min(gaps) < 0.08, gaps  # the old start drifted 0.24 down over two years


def test_most_defaulted_enterprises_close_within_two_years(population: Population) -> None:
    defaulted = np.flatnonzero((population.default_month >= 0)
                               & (population.default_month < HISTORY_MONTHS - 30))  # two years seen after
    closed = population.closed_month[defaulted]
    closing_share = sum(share for _, share, _, _ in EXITS_AFTER_DEFAULT)
    within = (closed >= 0) & (closed - population.default_month[defaulted] <= 24)
    assert abs(within.mean() - closing_share) < 0.06  # a few founded under three months before are kept open
    statuses = set(population.registration["status"].iloc[defaulted[closed >= 0]])
    assert statuses == {"吊销", "注销"}


def test_enterprises_that_carry_on_after_a_default_recover(population: Population) -> None:
    carry_on = np.flatnonzero((population.default_month >= 0) & (population.closed_month < 0)
                              & (population.default_month < HISTORY_MONTHS - 37))
    t = population.default_month[carry_on]
    gap_after = population.health[carry_on, t + 1] - population.mean_health[carry_on]
    gap_later = population.health[carry_on, t + 36] - population.mean_health[carry_on]
    assert gap_after.mean() < -2.0
    assert gap_later.mean() > gap_after.mean() + 1.5  # three half-lives: most of the fall made up


def test_tax_grade_d_does_not_drift_year_by_year(population: Population) -> None:
    streams = np.random.default_rng(3).spawn(2)
    _, filings = tax_monthly(streams[0], population)
    grades = tax_credit_grade(streams[1], population, filings)[0].to_pandas()
    whole_years = grades[grades["year"].astype(int).between(2022, 2025)]
    share_d = whole_years.groupby("year")["grade"].apply(lambda g: float((g == "D").mean()))
    assert share_d.between(0.01, 0.05).all(), share_d
    assert share_d.max() - share_d.min() < 0.012, share_d  # the old generator went 3.0 % → 8.0 %
