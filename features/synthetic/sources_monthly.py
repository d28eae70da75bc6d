"""Monthly feeds and the yearly tax grade: noisy views of the hidden health path.

Overdue tax, skipped filings, contribution arrears and late utility payments grow more likely as health falls,
so they tend to come before a default; a low tax credit grade follows a weak year. Every function returns a
clean raw table (string cells, canonical columns) holding only what had reached the platform by extraction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from features.synthetic import cells
from features.synthetic.population import Population

AMENDED_SHARE = 0.003  # 更正申报: filings corrected by a later one for the same month


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def active_cells(pop: Population) -> np.ndarray:
    """(enterprise, month) cells in which the enterprise exists and still operates."""
    n_months = pop.timeline.size
    t = np.arange(n_months)[None, :]
    closed = np.where(pop.closed_month >= 0, pop.closed_month, n_months + 1)[:, None]
    return (t >= pop.founded_month[:, None]) & (t < closed)


def days(rng: np.random.Generator, low: int, high: int, size: int) -> np.ndarray:
    """Random whole-day offsets in [low, high)."""
    return rng.integers(low, high, size).astype("timedelta64[D]")


def period_cells(pop: Population, t: np.ndarray) -> pa.Array:
    return cells.take(pop.timeline.months.strftime("%Y-%m").to_numpy(), t)


def uscc_cells(pop: Population, i: np.ndarray) -> pa.Array:
    return cells.take(pop.registration["uscc"].to_numpy(), i)


def extracted(pop: Population) -> np.datetime64:
    return np.datetime64(pop.timeline.extracted_on.date(), "D")


@dataclass(frozen=True)
class TaxFilings:
    """The filed (enterprise, month) cells and whether tax was overdue then; the grade is drawn from them."""

    i: np.ndarray
    t: np.ndarray
    overdue: np.ndarray


def _monthly_sales(rng: np.random.Generator, pop: Population) -> np.ndarray:
    n_months = pop.timeline.size
    month_of_year = pop.timeline.months.month.to_numpy()
    season = 1.0 + pop.seasonality[:, None] * np.sin(2 * np.pi * (month_of_year[None, :] - 3) / 12)
    trend = pop.growth[:, None] * np.arange(n_months)[None, :]
    base = np.log(pop.scale_heads)[:, None] + pop.revenue_per_head[:, None]
    noise = rng.normal(0, 0.22, (len(pop.growth), n_months))
    return np.exp(base + trend + 0.45 * pop.health + noise) * season


def tax_monthly(rng: np.random.Generator, pop: Population) -> tuple[pa.Table, TaxFilings]:
    """纳税: monthly VAT, CIT (quarterly), invoiced sales and overdue tax; ~0.3 % amended by a later filing."""
    active = active_cells(pop)
    skipped = rng.random(active.shape) < sigmoid(-4.2 - 1.1 * pop.health)
    i, t = np.nonzero(active & ~skipped)
    sales = _monthly_sales(rng, pop)[i, t]
    vat_rate = rng.choice([0.03, 0.06, 0.13], size=len(i), p=[0.5, 0.2, 0.3])
    vat = sales * vat_rate * rng.uniform(0.25, 0.45, len(i))
    quarter_end = pop.timeline.months.month.to_numpy()[t] % 3 == 0
    cit = np.where(quarter_end, np.clip(sales * 3 * rng.normal(0.02, 0.01, len(i)), 0, None), 0.0)
    overdue = rng.random(len(i)) < sigmoid(-3.8 - 1.3 * pop.health[i, t])
    overdue_tax = np.where(overdue, vat * rng.uniform(0.3, 2.0, len(i)), 0.0)
    late = rng.random(len(i)) < 0.04 + 0.2 * sigmoid(-2.5 - 1.5 * pop.health[i, t])
    filed = (
        pop.timeline.month_end(t)
        + days(rng, 5, 16, len(i))
        + np.where(late, days(rng, 20, 150, len(i)), np.timedelta64(0, "D"))
    )
    filings = TaxFilings(i, t, overdue)
    # 更正申报: a second filing for the same month with changed amounts, filed later
    a = np.flatnonzero(rng.random(len(i)) < AMENDED_SHARE)
    factor = rng.uniform(0.85, 1.15, len(a))
    settled = rng.random(len(a)) < 0.3
    i, t = np.concatenate([i, i[a]]), np.concatenate([t, t[a]])
    vat = np.concatenate([vat, vat[a] * factor])
    cit = np.concatenate([cit, cit[a] * factor])
    sales = np.concatenate([sales, sales[a] * factor])
    overdue_tax = np.concatenate([overdue_tax, np.where(settled, 0.0, overdue_tax[a])])
    filed = np.concatenate([filed, filed[a] + days(rng, 10, 120, len(a))])
    keep = filed <= extracted(pop)
    order = np.lexsort((filed, t, i))
    order = order[keep[order]]
    frame = cells.table({
        "uscc": uscc_cells(pop, i[order]),
        "period": period_cells(pop, t[order]),
        "vat": cells.money(vat[order]),
        "cit": cells.money(cit[order]),
        "invoiced_sales": cells.money(sales[order]),
        "overdue_tax": cells.money(overdue_tax[order]),
        "filed_on": cells.dates(filed[order]),
    })
    return frame, filings


@dataclass(frozen=True)
class Grades:
    """Tax credit grades drawn: enterprise index, grade and the day it became available (for the red list)."""

    i: np.ndarray
    grade: np.ndarray
    available: np.ndarray


def tax_credit_grade(rng: np.random.Generator, pop: Population, filings: TaxFilings) -> tuple[pa.Table, Grades]:
    """纳税信用等级: a grade per enterprise per year it existed in, decided in April of the next year.

    Points fall with weak health, overdue tax and unfiled months (A ≥ 90, B 70-89, C 40-69, D < 40); M for
    an enterprise founded that year or with no filings (no revenue).
    """
    timeline = pop.timeline
    years = timeline.months.year.to_numpy()
    n = len(pop.mean_health)
    active = active_cells(pop)
    filed = np.zeros(active.shape, dtype=bool)
    filed[filings.i, filings.t] = True
    overdue = np.zeros(active.shape, dtype=bool)
    overdue[filings.i, filings.t] = filings.overdue
    founded_year = pop.registration["founded_on"].dt.year.to_numpy()
    limit = extracted(pop)
    parts: list[tuple[np.ndarray, ...]] = []
    for year in sorted(set(years.tolist())):
        evaluated = np.datetime64(f"{year + 1}-04-01") + days(rng, 0, 25, n)
        in_year = years == year
        months_active = (active & in_year[None, :]).sum(axis=1)
        closed_at = np.where(pop.closed_month >= 0, timeline.month_end(np.clip(pop.closed_month, 0, None)), limit)
        exists = (months_active > 0) & (closed_at > evaluated) & (evaluated < limit)
        health = np.where(active & in_year[None, :], pop.health, 0.0).sum(axis=1) / np.maximum(months_active, 1)
        unfiled = months_active - (filed & in_year[None, :]).sum(axis=1)
        points = (79.0 + 8.0 * health - 7.0 * (overdue & in_year[None, :]).sum(axis=1) - 4.0 * unfiled
                  + rng.normal(0, 5, n))
        grade = np.select([points >= 90, points >= 70, points >= 40], ["A", "B", "C"], default="D")
        new = (founded_year == year) | ((filed & in_year[None, :]).sum(axis=1) == 0)
        grade = np.where(new, "M", grade)
        available = evaluated + days(rng, 2, 8, n)
        i = np.flatnonzero(exists & (available <= limit))
        parts.append((i, np.full(len(i), year), grade[i], evaluated[i], available[i]))
    i, year_of, grade, evaluated_on, available_on = (np.concatenate(p) for p in zip(*parts, strict=True))
    frame = cells.table({
        "uscc": uscc_cells(pop, i),
        "year": cells.text(year_of.astype(str)),
        "grade": cells.text(grade),
        "evaluated_on": cells.dates(evaluated_on),
        "available_on": cells.dates(available_on),
    })
    return frame, Grades(i, grade, available_on)


def headcount(rng: np.random.Generator, pop: Population) -> np.ndarray:
    """Insured people per (enterprise, month): scale follows health a little."""
    n, n_months = pop.health.shape
    noise = rng.normal(0, 0.04, (n, n_months))
    return np.maximum(1, np.round(pop.scale_heads[:, None] * np.exp(0.22 * pop.health + noise)))


def _contributions(rng: np.random.Generator, pop: Population, covered: np.ndarray, people: np.ndarray,
                   per_person: np.ndarray, short_intercept: float, headcount_column: str) -> pa.Table:
    """Monthly people, contributions due and paid, and arrears outstanding at month end, for covered ones."""
    n, n_months = pop.health.shape
    active = active_cells(pop) & covered[:, None]
    due = people * per_person[:, None]
    short = rng.random((n, n_months)) < sigmoid(short_intercept - 1.6 * pop.health)
    paid = np.where(short, due * rng.uniform(0.0, 0.7, (n, n_months)), due)
    arrears = np.zeros((n, n_months))
    outstanding = np.zeros(n)
    for month in range(n_months):
        outstanding = np.where(active[:, month], outstanding, 0.0)
        settle = rng.random(n) < sigmoid(0.5 + 1.2 * pop.health[:, month])
        outstanding = np.where(settle, 0.0, outstanding) + (due[:, month] - paid[:, month]) * active[:, month]
        arrears[:, month] = outstanding
    i, t = np.nonzero(active)
    available = pop.timeline.month_end(t) + days(rng, 8, 25, len(i))
    keep = available <= extracted(pop)
    i, t, available = i[keep], t[keep], available[keep]
    return cells.table({
        "uscc": uscc_cells(pop, i),
        "period": period_cells(pop, t),
        headcount_column: cells.count(people[i, t]),
        "contribution_due": cells.money(due[i, t]),
        "contribution_paid": cells.money(paid[i, t]),
        "arrears": cells.money(arrears[i, t]),
        "available_on": cells.dates(available),
    })


def social_insurance_monthly(rng: np.random.Generator, pop: Population, people: np.ndarray) -> pa.Table:
    """社保: insured headcount, contributions due and paid, and arrears outstanding at month end."""
    n = len(pop.mean_health)
    individual = pop.registration["enterprise_type"].to_numpy() == "个体工商户"
    covered = (rng.random(n) < 0.92) & ~(individual & (rng.random(n) < 0.5))
    return _contributions(rng, pop, covered, people, np.full(n, 1150.0), -3.6, "insured_headcount")


def housing_fund_monthly(rng: np.random.Generator, pop: Population, people: np.ndarray) -> pa.Table:
    """公积金: a subset of employers (more often the healthier and larger), contributors a share of headcount."""
    n = len(pop.mean_health)
    individual = pop.registration["enterprise_type"].to_numpy() == "个体工商户"
    likely = sigmoid(-1.0 + 0.9 * pop.mean_health + 0.7 * (np.log(pop.scale_heads) - 1.7))
    covered = rng.random(n) < np.where(individual, 0.2, 1.0) * likely
    share = rng.uniform(0.3, 1.0, n)
    contributors = np.maximum(1, np.round(people * share[:, None]))
    per_person = np.round(rng.uniform(600, 1800, n), -1)  # employer and employee, 5-12 % of wages each
    return _contributions(rng, pop, covered, contributors, per_person, -3.9, "contributors")


_UTILITY = {"electricity": (0.90, 300.0, 0.85), "water": (0.55, 6.0, 4.1), "gas": (0.20, 12.0, 3.2)}


def utilities_monthly(rng: np.random.Generator, pop: Population) -> pa.Table:
    """水电气: monthly quantity, amount billed and paid, and days late, per utility account."""
    n = pop.health.shape[0]
    manufacturing = pop.registration["industry"].str.startswith("C").to_numpy()
    active_all = active_cells(pop)
    parts: list[tuple[np.ndarray, ...]] = []
    for k, (kind, (share, per_head, price)) in enumerate(_UTILITY.items()):
        has = (rng.random(n) < share) | (manufacturing & (kind == "electricity"))
        i, t = np.nonzero(active_all & has[:, None])
        intensity = per_head * (8.0 if kind == "electricity" else 1.0)
        quantity = (
            pop.scale_heads[i]
            * intensity
            * np.where(manufacturing[i], 3.0, 1.0)
            * np.exp(0.35 * pop.health[i, t] + rng.normal(0, 0.15, len(i)))
        )
        billed = quantity * price
        late = rng.random(len(i)) < sigmoid(-3.3 - 1.4 * pop.health[i, t])
        days_late = np.where(late, rng.integers(5, 120, len(i)), 0)
        paid = np.where(days_late > 60, billed * rng.uniform(0, 0.8, len(i)), billed)
        available = pop.timeline.month_end(t) + days(rng, 15, 35, len(i))
        parts.append((i, t, np.full(len(i), k), quantity, billed, paid, days_late, available))
    i, t, kind_index, quantity, billed, paid, days_late, available = (
        np.concatenate(p) for p in zip(*parts, strict=True)
    )
    order = np.lexsort((kind_index, t, i))
    order = order[available[order] <= extracted(pop)]
    return cells.table({
        "uscc": uscc_cells(pop, i[order]),
        "period": period_cells(pop, t[order]),
        "kind": cells.take(np.array(list(_UTILITY)), kind_index[order]),
        "quantity": cells.money(quantity[order], decimals=1),
        "amount_billed": cells.money(billed[order]),
        "amount_paid": cells.money(paid[order]),
        "days_late": cells.count(days_late[order]),
        "available_on": cells.dates(available[order]),
    })
