"""Noisy views of the hidden health path, shaped like the government feeds the platform receives.

Each function returns one clean raw table (strings and numbers as a feed would carry them). Arrears, late
utility payments and penalties grow more likely as health falls, so they tend to come before a default.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.synthetic.population import Population


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _active(pop: Population) -> np.ndarray:
    """(enterprise, month) cells in which the enterprise exists and still operates."""
    n_months = pop.timeline.size
    t = np.arange(n_months)[None, :]
    closed = np.where(pop.closed_month >= 0, pop.closed_month, n_months + 1)[:, None]
    return (t >= pop.founded_month[:, None]) & (t < closed)


def _days(rng: np.random.Generator, low: int, high: int, size: int) -> np.ndarray:
    return rng.integers(low, high, size).astype("timedelta64[D]")


def _period_strings(pop: Population, t: np.ndarray) -> np.ndarray:
    return pop.timeline.months.strftime("%Y-%m").to_numpy()[t]


def _monthly_sales(rng: np.random.Generator, pop: Population) -> np.ndarray:
    n_months = pop.timeline.size
    month_of_year = pop.timeline.months.month.to_numpy()
    season = 1.0 + pop.seasonality[:, None] * np.sin(2 * np.pi * (month_of_year[None, :] - 3) / 12)
    trend = pop.growth[:, None] * np.arange(n_months)[None, :]
    base = np.log(pop.scale_heads)[:, None] + pop.revenue_per_head[:, None]
    noise = rng.normal(0, 0.22, (len(pop.growth), n_months))
    return np.exp(base + trend + 0.45 * pop.health + noise) * season


def tax_monthly(rng: np.random.Generator, pop: Population) -> pd.DataFrame:
    """纳税: monthly VAT, CIT (quarterly), invoiced sales and overdue tax, with their filing dates."""
    active = _active(pop)
    skipped = rng.random(active.shape) < _sigmoid(-4.2 - 1.1 * pop.health)
    i, t = np.nonzero(active & ~skipped)
    sales = _monthly_sales(rng, pop)[i, t]
    vat_rate = rng.choice([0.03, 0.06, 0.13], size=len(i), p=[0.5, 0.2, 0.3])
    vat = sales * vat_rate * rng.uniform(0.25, 0.45, len(i))
    quarter_end = pop.timeline.months.month.to_numpy()[t] % 3 == 0
    cit = np.where(quarter_end, np.clip(sales * 3 * rng.normal(0.02, 0.01, len(i)), 0, None), 0.0)
    overdue = rng.random(len(i)) < _sigmoid(-3.8 - 1.3 * pop.health[i, t])
    overdue_tax = np.where(overdue, vat * rng.uniform(0.3, 2.0, len(i)), 0.0)
    late = rng.random(len(i)) < 0.04 + 0.2 * _sigmoid(-2.5 - 1.5 * pop.health[i, t])
    filed = (
        pop.timeline.month_end(t)
        + _days(rng, 5, 16, len(i))
        + np.where(late, _days(rng, 20, 150, len(i)), np.timedelta64(0, "D"))
    )
    return pd.DataFrame(
        {
            "uscc": pop.registration["uscc"].to_numpy()[i],
            "period": _period_strings(pop, t),
            "vat": vat.round(2),
            "cit": cit.round(2),
            "invoiced_sales": sales.round(2),
            "overdue_tax": overdue_tax.round(2),
            "filed_on": filed.astype(str),
        }
    )


def social_insurance_monthly(rng: np.random.Generator, pop: Population) -> pd.DataFrame:
    """社保: insured headcount, contributions due and paid, and arrears outstanding at month end."""
    n, n_months = pop.health.shape
    covered = (rng.random(n) < 0.92) & ~(
        (pop.registration["enterprise_type"].to_numpy() == "个体工商户") & (rng.random(n) < 0.5)
    )
    active = _active(pop) & covered[:, None]
    heads = np.maximum(
        1, np.round(pop.scale_heads[:, None] * np.exp(0.22 * pop.health + rng.normal(0, 0.04, (n, n_months))))
    )
    due = heads * 1150.0
    short = rng.random((n, n_months)) < _sigmoid(-3.6 - 1.6 * pop.health)
    paid = np.where(short, due * rng.uniform(0.0, 0.7, (n, n_months)), due)
    arrears = np.zeros((n, n_months))
    outstanding = np.zeros(n)
    for month in range(n_months):
        outstanding = np.where(active[:, month], outstanding, 0.0)
        settle = rng.random(n) < _sigmoid(0.5 + 1.2 * pop.health[:, month])
        outstanding = np.where(settle, 0.0, outstanding) + (due[:, month] - paid[:, month]) * active[:, month]
        arrears[:, month] = outstanding
    i, t = np.nonzero(active)
    available = pop.timeline.month_end(t) + _days(rng, 8, 25, len(i))
    return pd.DataFrame(
        {
            "uscc": pop.registration["uscc"].to_numpy()[i],
            "period": _period_strings(pop, t),
            "insured_headcount": heads[i, t].astype(int),
            "contribution_due": due[i, t].round(2),
            "contribution_paid": paid[i, t].round(2),
            "arrears": arrears[i, t].round(2),
            "available_on": available.astype(str),
        }
    )


_UTILITY = {"electricity": (0.90, 300.0, 0.85), "water": (0.55, 6.0, 4.1), "gas": (0.20, 12.0, 3.2)}


def utilities_monthly(rng: np.random.Generator, pop: Population) -> pd.DataFrame:
    """水电气: monthly quantity, amount billed and paid, and days late, per utility account."""
    n = pop.health.shape[0]
    manufacturing = pop.registration["industry"].str.startswith("C").to_numpy()
    frames = []
    for kind, (share, per_head, price) in _UTILITY.items():
        has = (rng.random(n) < share) | (manufacturing & (kind == "electricity"))
        active = _active(pop) & has[:, None]
        i, t = np.nonzero(active)
        intensity = per_head * (8.0 if kind == "electricity" else 1.0)
        quantity = (
            pop.scale_heads[i]
            * intensity
            * np.where(manufacturing[i], 3.0, 1.0)
            * np.exp(0.35 * pop.health[i, t] + rng.normal(0, 0.15, len(i)))
        )
        billed = quantity * price
        late = rng.random(len(i)) < _sigmoid(-3.3 - 1.4 * pop.health[i, t])
        days_late = np.where(late, rng.integers(5, 120, len(i)), 0)
        paid = np.where(days_late > 60, billed * rng.uniform(0, 0.8, len(i)), billed)
        available = pop.timeline.month_end(t) + _days(rng, 15, 35, len(i))
        frames.append(
            pd.DataFrame(
                {
                    "uscc": pop.registration["uscc"].to_numpy()[i],
                    "period": _period_strings(pop, t),
                    "kind": kind,
                    "quantity": quantity.round(1),
                    "amount_billed": billed.round(2),
                    "amount_paid": paid.round(2),
                    "days_late": days_late,
                    "available_on": available.astype(str),
                }
            )
        )
    return pd.concat(frames, ignore_index=True).sort_values(["uscc", "period", "kind"], ignore_index=True)


_ADMIN_RATES = {  # kind: (intercept, health slope) of a monthly Poisson rate
    "许可": (-3.6, 0.3),
    "处罚": (-5.0, -0.9),
    "强制": (-7.0, -1.2),
    "确认": (-5.5, 0.0),
    "裁决": (-7.5, -0.5),
    "奖励": (-6.5, 0.6),
    "监督检查": (-4.8, -0.3),
}
_DEPARTMENTS = ("市场监管局", "税务局", "生态环境局", "应急管理局", "住建局", "人社局", "消防救援支队")


def admin_records(rng: np.random.Generator, pop: Population) -> pd.DataFrame:
    """双公示 and the 7 kinds of administrative records, with decision and publication dates."""
    active = _active(pop)
    frames = []
    for kind, (a, b) in _ADMIN_RATES.items():
        counts = rng.poisson(np.exp(a + b * pop.health) * active)
        i, t = np.nonzero(counts)
        reps = counts[i, t]
        i, t = np.repeat(i, reps), np.repeat(t, reps)
        decided = pop.timeline.months.to_numpy().astype("datetime64[D]")[t] + _days(rng, 0, 28, len(i))
        working_days = rng.integers(1, 8, len(i)) + np.where(
            rng.random(len(i)) < 0.03, rng.integers(3, 20, len(i)), 0
        )
        published = np.busday_offset(decided, working_days, roll="forward")
        severity = np.full(len(i), "", dtype=object)
        amount = np.full(len(i), np.nan)
        repaired = np.full(len(i), "", dtype=object)
        if kind == "处罚":
            severe_p = _sigmoid(-2.2 - 0.8 * pop.health[i, t])
            u = rng.random(len(i))
            severity = np.where(u < severe_p, "严重", np.where(u < severe_p + 0.35, "一般", "轻微")).astype(
                object
            )
            amount = np.round(
                np.where(severity == "严重", rng.uniform(5e4, 1e6, len(i)), rng.uniform(200, 5e4, len(i))), -2
            )
            fixed = (severity != "严重") & (rng.random(len(i)) < 0.4)
            repaired_on = published + _days(rng, 95, 400, len(i))
            fixed &= repaired_on <= pop.timeline.extracted_on.to_datetime64()  # a repair not yet made is unknown
            repaired = np.where(fixed, repaired_on.astype(str), "").astype(object)
        frames.append(
            pd.DataFrame(
                {
                    "uscc": pop.registration["uscc"].to_numpy()[i],
                    "kind": kind,
                    "decision_date": decided.astype(str),
                    "published_on": published.astype(str),
                    "department": rng.choice(_DEPARTMENTS, len(i)),
                    "severity": severity,
                    "amount": amount,
                    "repaired_on": repaired,
                }
            )
        )
    out = pd.concat(frames, ignore_index=True).sort_values(["decision_date", "uscc"], ignore_index=True)
    out.insert(0, "record_id", [f"AR{k:08d}" for k in range(len(out))])
    extracted = str(pop.timeline.extracted_on.date())
    return out[out["published_on"] <= extracted].reset_index(drop=True)


def judicial(rng: np.random.Generator, pop: Population) -> pd.DataFrame:
    """司法: enforcement cases (被执行人) and dishonest-debtor listings (失信被执行人)."""
    active = _active(pop)
    n_months = pop.timeline.size
    defaulted = np.arange(n_months)[None, :] > pop.default_month[:, None]
    defaulted &= pop.default_month[:, None] >= 0
    rate_case = np.exp(-7.2 - 1.1 * pop.health) + 0.03 * defaulted
    rate_dishonest = np.exp(-9.5 - 1.2 * pop.health) + 0.02 * defaulted
    frames = []
    for kind, rate in (("被执行人", rate_case), ("失信被执行人", rate_dishonest)):
        counts = rng.poisson(rate * active)
        i, t = np.nonzero(counts)
        listed = pop.timeline.months.to_numpy().astype("datetime64[D]")[t] + _days(rng, 0, 28, len(i))
        removed = listed + _days(rng, 60, 900, len(i))
        keep_open = rng.random(len(i)) < 0.5
        removed_s = np.where(
            keep_open | (removed > pop.timeline.extracted_on.to_datetime64()), "", removed.astype(str)
        )
        frames.append(
            pd.DataFrame(
                {
                    "uscc": pop.registration["uscc"].to_numpy()[i],
                    "kind": kind,
                    "listed_on": listed.astype(str),
                    "removed_on": removed_s,
                    "amount": np.round(np.exp(rng.normal(11, 1.2, len(i))), 2),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True).sort_values(["listed_on", "uscc"], ignore_index=True)
    out.insert(0, "case_id", [f"JD{k:07d}" for k in range(len(out))])
    return out


def list_entries(rng: np.random.Generator, pop: Population, dishonest: pd.DataFrame) -> pd.DataFrame:
    """名单: abnormal-operations, focus, black (from dishonest debtors) and red lists, with in/out dates."""
    n = pop.health.shape[0]
    active = _active(pop)
    months = pop.timeline.months.to_numpy().astype("datetime64[D]")
    rows = []
    for name, rate, reason in (
        ("abnormal", np.exp(-6.6 - 1.1 * pop.health), "未按时报送年度报告"),
        ("focus", np.exp(-8.5 - 0.8 * pop.health), "重点关注"),
    ):
        i, t = np.nonzero(rng.poisson(rate * active))
        entered = months[t] + _days(rng, 0, 28, len(i))
        exited = entered + _days(rng, 20, 500, len(i))
        rows.append(
            pd.DataFrame(
                {
                    "uscc": pop.registration["uscc"].to_numpy()[i],
                    "list_name": name,
                    "entered_on": entered,
                    "exited_on": exited,
                    "reason": reason,
                }
            )
        )
    april = np.nonzero(pop.timeline.months.month.to_numpy() == 4)[0]
    for april_month in april.tolist():
        before = max(april_month - 1, 0)
        good = active[:, april_month] & (pop.health[:, before] > 1.6) & (rng.random(n) < 0.5)
        i = np.nonzero(good)[0]
        entered = np.full(len(i), months[april_month] + np.timedelta64(14, "D"))
        rows.append(
            pd.DataFrame(
                {
                    "uscc": pop.registration["uscc"].to_numpy()[i],
                    "list_name": "red",
                    "entered_on": entered,
                    "exited_on": entered + np.timedelta64(365, "D"),
                    "reason": "纳税信用A级",
                }
            )
        )
    black = dishonest[dishonest["kind"] == "失信被执行人"].sample(
        frac=0.3, random_state=int(rng.integers(1 << 30))
    )
    entered_b = pd.to_datetime(black["listed_on"]).to_numpy().astype("datetime64[D]") + _days(
        rng, 10, 90, len(black)
    )
    rows.append(
        pd.DataFrame(
            {
                "uscc": black["uscc"].to_numpy(),
                "list_name": "black",
                "entered_on": entered_b,
                "exited_on": entered_b + _days(rng, 365, 1100, len(black)),
                "reason": "严重失信主体",
            }
        )
    )
    out = pd.concat(rows, ignore_index=True)
    extracted = pop.timeline.extracted_on.to_datetime64()
    out = out[out["entered_on"] <= extracted].sort_values(["entered_on", "uscc"], ignore_index=True)
    out["exited_on"] = np.where(out["exited_on"] > extracted, "", out["exited_on"].astype(str))
    out["entered_on"] = out["entered_on"].astype(str)
    out.insert(0, "entry_id", [f"LE{k:07d}" for k in range(len(out))])
    return out
