"""The hidden world of a synthetic region: enterprises, their monthly health path and their defaults.

Nothing here is visible to the model. Sources (``sources_monthly.py``, ``sources_records.py``) are noisy views
of the health path; the true probability of default per (enterprise, application date) is computed from the
same law, so the oracle AUC of a region is known and a trained model can be measured against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.uscc import ALPHABET, make_uscc

# GB/n_months 4754 division: (name, health offset, log revenue per head (yuan/month), seasonality amplitude)
INDUSTRIES: dict[str, tuple[str, float, float, float]] = {
    "C13": ("农副食品加工业", -0.1, 10.9, 0.15),
    "C18": ("纺织服装、服饰业", -0.3, 10.4, 0.20),
    "C26": ("化学原料和化学制品制造业", 0.1, 11.3, 0.05),
    "C34": ("通用设备制造业", 0.2, 11.0, 0.05),
    "C39": ("计算机、通信和其他电子设备制造业", 0.2, 11.2, 0.10),
    "E47": ("房屋建筑业", -0.5, 11.1, 0.25),
    "F51": ("批发业", 0.0, 11.6, 0.10),
    "F52": ("零售业", -0.2, 10.8, 0.20),
    "G54": ("道路运输业", -0.1, 10.6, 0.10),
    "H62": ("餐饮业", -0.4, 10.0, 0.20),
    "I65": ("软件和信息技术服务业", 0.3, 10.8, 0.05),
    "K70": ("房地产业", -0.6, 11.5, 0.15),
    "L72": ("商务服务业", 0.1, 10.6, 0.05),
    "M75": ("科技推广和应用服务业", 0.2, 10.5, 0.05),
}
_INDUSTRY_WEIGHTS = np.array([6, 7, 3, 6, 4, 6, 14, 16, 6, 10, 7, 3, 8, 4], dtype=float)
REGION_CODES = ("410102", "410103", "410104", "410105", "410122", "410181", "410182", "410183")
_ORG_CHARS = np.array(list(ALPHABET))

AR_PERSISTENCE = 0.92
AR_VOLATILITY = 0.30
SHOCK_PROBABILITY = 0.012
SHOCK_MEAN, SHOCK_SD = 1.6, 0.5
HAZARD_INTERCEPT = -5.9
HAZARD_SLOPE = 1.25
DEFAULT_HORIZON_MONTHS = 12
SHOCK_DRIFT = -SHOCK_PROBABILITY * SHOCK_MEAN / (1 - AR_PERSISTENCE)
"""Where the shocks hold health on average below μ (−0.24): the AR(1)'s mean once it has run a while."""
BURN_IN_MONTHS = 48
"""Months of health simulated before the timeline and dropped, so the region starts in its steady state instead
of drifting 0.24 down over its first two years (0.92⁴⁸ ≈ 2 % of any start-up offset is left)."""
DISTRESS = 2.5
"""How far health falls in the month after a first default: the sources show the distress."""
DISTRESS_HALF_LIFE_MONTHS = 12
"""An enterprise that carries on after a default recovers: the fall halves every year."""
EXITS_AFTER_DEFAULT = (("吊销", 0.35, 4, 14), ("注销", 0.45, 3, 25))
"""After a first default: (status, share of defaulted enterprises, first and past-last month after the default
of the closure). The rest (20 %) carry on and recover."""


@dataclass(frozen=True)
class Timeline:
    """Month grid of the region: ``months[t]`` is the first day of month t; the last is before extraction."""

    months: pd.DatetimeIndex
    extracted_on: pd.Timestamp

    @property
    def size(self) -> int:
        return len(self.months)

    def month_end(self, t: np.ndarray) -> np.ndarray:
        """Last day of month index t, as datetime64[D]."""
        starts = self.months.to_numpy().astype("datetime64[M]")[t]
        return (starts + np.timedelta64(1, "M")).astype("datetime64[D]") - np.timedelta64(1, "D")


@dataclass
class Population:
    """Enterprises with their hidden state: health path ``health[i, t]`` and ``default_month`` (-1: none)."""

    registration: pd.DataFrame
    founded_month: np.ndarray
    closed_month: np.ndarray
    scale_heads: np.ndarray
    revenue_per_head: np.ndarray
    seasonality: np.ndarray
    growth: np.ndarray
    mean_health: np.ndarray
    health: np.ndarray
    default_month: np.ndarray
    timeline: Timeline


def hazard(health: np.ndarray) -> np.ndarray:
    """Monthly probability of a first default (90+ days past due) given health."""
    return 1.0 / (1.0 + np.exp(-(HAZARD_INTERCEPT - HAZARD_SLOPE * health)))


def _uscc_codes(rng: np.random.Generator, n: int, individual: np.ndarray) -> np.ndarray:
    regions = rng.choice(REGION_CODES, size=n)
    codes: list[str] = []
    seen: set[str] = set()
    while len(codes) < n:
        draws = _ORG_CHARS[rng.integers(0, len(_ORG_CHARS), size=(n - len(codes), 8))]
        for chars in draws:
            i = len(codes)
            code = make_uscc("9", "2" if individual[i] else "1", str(regions[i]), "".join(chars))
            if code not in seen:
                seen.add(code)
                codes.append(code)
    return np.array(codes)


def _registration(rng: np.random.Generator, n: int, timeline: Timeline) -> tuple[pd.DataFrame, dict]:
    industry = rng.choice(list(INDUSTRIES), size=n, p=_INDUSTRY_WEIGHTS / _INDUSTRY_WEIGHTS.sum())
    individual = rng.random(n) < 0.12
    uscc = _uscc_codes(rng, n, individual)
    start = timeline.months[0]
    young = rng.random(n) < 0.25
    old_days = rng.integers(90, 28 * 365, size=n)
    young_days = rng.integers(0, (timeline.extracted_on - start).days - 120, size=n)
    founded = np.where(
        young,
        (start + pd.to_timedelta(young_days, "D")).to_numpy(),
        (start - pd.to_timedelta(old_days, "D")).to_numpy(),
    ).astype("datetime64[D]")
    # heavy-tailed size: lognormal body with a Pareto tail
    heads = np.exp(rng.normal(1.7, 0.9, size=n)) * np.where(rng.random(n) < 0.05, rng.pareto(1.5, n) + 1, 1)
    heads = np.clip(np.where(individual, heads * 0.3, heads), 1, 5000)
    rev_head = np.array([INDUSTRIES[k][2] for k in industry]) + rng.normal(0, 0.35, size=n)
    revenue_month = heads * np.exp(rev_head)
    size_class = np.select(
        [
            (heads >= 300) & (revenue_month * 12 >= 2e8),
            (heads >= 100) & (revenue_month * 12 >= 2e7),
            (heads >= 10) & (revenue_month * 12 >= 1e6),
        ],
        ["大", "中", "小"],
        default="微",
    )
    capital = np.round(np.exp(np.log(revenue_month * 3) + rng.normal(0, 0.8, size=n)), -3).clip(10_000, None)
    etype = np.where(
        individual,
        "个体工商户",
        rng.choice(
            ["有限责任公司", "股份有限公司", "个人独资企业", "合伙企业"], size=n, p=[0.86, 0.04, 0.06, 0.04]
        ),
    )
    names = [
        f"演示{k[:1]}{i:05d}{'商行' if ind else '有限公司'}"
        for i, (k, ind) in enumerate(zip(industry, individual, strict=True))
    ]
    frame = pd.DataFrame(
        {
            "uscc": uscc,
            "name": names,
            "founded_on": founded,
            "industry": industry,
            "region_code": [c[2:8] for c in uscc],
            "registered_capital": capital,
            "enterprise_type": etype,
            "size_class": size_class,
        }
    )
    extras = {"heads": heads, "rev_head": rev_head, "young": young}
    return frame, extras


def _health_paths(rng: np.random.Generator, mean_health: np.ndarray, n_months: int) -> np.ndarray:
    """Monthly health: an AR(1) around μ with rare large falls, run ``BURN_IN_MONTHS`` before the timeline so
    its first month already has the steady state's level and spread."""
    n = len(mean_health)
    health = np.empty((n, n_months))
    h = mean_health + SHOCK_DRIFT + rng.normal(0, AR_VOLATILITY / np.sqrt(1 - AR_PERSISTENCE**2), size=n)
    for t in range(-BURN_IN_MONTHS, n_months):
        shock = (rng.random(n) < SHOCK_PROBABILITY) * rng.normal(SHOCK_MEAN, SHOCK_SD, size=n)
        h = mean_health + AR_PERSISTENCE * (h - mean_health) + rng.normal(0, AR_VOLATILITY, size=n) - shock
        if t >= 0:
            health[:, t] = h
    return health


def _distress(default_month: np.ndarray, n_months: int) -> np.ndarray:
    """How far below its own path each enterprise's health is held after its first default: ``DISTRESS`` the
    month after, halving every ``DISTRESS_HALF_LIFE_MONTHS`` (0 before a default and for none)."""
    since = np.arange(n_months)[None, :] - default_month[:, None]
    after = (since > 0) & (default_month[:, None] >= 0)
    return np.where(after, DISTRESS * 0.5 ** ((since - 1) / DISTRESS_HALF_LIFE_MONTHS), 0.0)


def _exits(rng: np.random.Generator, default_month: np.ndarray, n_months: int) -> tuple[np.ndarray, np.ndarray]:
    """The month each enterprise closes (-1: it does not) and how: most defaulted enterprises are revoked (吊销)
    or wound up (注销) within two years, the rest carry on; 3 % of the others wind up at some point."""
    n = len(default_month)
    closed_month = np.full(n, -1)
    status = np.full(n, "存续", dtype=object)
    defaulted = default_month >= 0
    draw = rng.random(n)
    low = 0.0
    for name, share, first, past_last in EXITS_AFTER_DEFAULT:
        leaves = defaulted & (draw >= low) & (draw < low + share)
        closed_month[leaves] = np.minimum(default_month[leaves] + rng.integers(first, past_last, leaves.sum()),
                                          n_months + 6)
        status[leaves] = name
        low += share
    voluntary = ~defaulted & (rng.random(n) < 0.03)
    closed_month[voluntary] = rng.integers(0, n_months + 6, voluntary.sum())
    status[voluntary] = "注销"
    return closed_month, status


def build_population(rng: np.random.Generator, n: int, timeline: Timeline) -> Population:
    """Draw enterprises, simulate their monthly health and first defaults."""
    reg, extras = _registration(rng, n, timeline)
    n_months = timeline.size
    month_idx = (
        reg["founded_on"].to_numpy().astype("datetime64[M]")
        - timeline.months[0].to_datetime64().astype("datetime64[M]")
    ).astype(int)
    founded_month = np.clip(month_idx + 1, 0, None)
    age_years = (timeline.extracted_on.to_datetime64() - reg["founded_on"].to_numpy()).astype(
        "timedelta64[D]"
    ).astype(float) / 365.25
    industry_offset = np.array([INDUSTRIES[k][1] for k in reg["industry"]])
    mean_health = (
        0.6
        + industry_offset
        + 0.25 * (np.log(extras["heads"]) - 1.7)
        + 0.35 * np.tanh((age_years - 4) / 4)
        + rng.normal(0, 0.7, size=n)
    )
    health = _health_paths(rng, mean_health, n_months)
    alive = np.arange(n_months)[None, :] >= founded_month[:, None]
    defaults = (rng.random((n, n_months)) < hazard(health)) & alive
    default_month = np.where(defaults.any(axis=1), defaults.argmax(axis=1), -1)
    health = health - _distress(default_month, n_months)
    closed_month, exit_status = _exits(rng, default_month, n_months)
    closed_month = np.where(closed_month >= founded_month + 3, closed_month, -1)
    status = np.where(closed_month < 0, "存续", exit_status)
    closed_in_window = (closed_month >= 0) & (closed_month < n_months)
    status = np.where(closed_in_window, status, "存续")
    closed_month = np.where(closed_in_window, closed_month, -1)
    reg["status"] = status  # as of extraction; the registration feed dates it from closed_month
    seasonality = np.array([INDUSTRIES[k][3] for k in reg["industry"]])
    return Population(
        registration=reg,
        founded_month=founded_month,
        closed_month=closed_month,
        scale_heads=extras["heads"],
        revenue_per_head=extras["rev_head"],
        seasonality=seasonality,
        growth=rng.normal(0.002, 0.01, size=n),
        mean_health=mean_health,
        health=health,
        default_month=default_month,
        timeline=timeline,
    )


def oracle_pd(rng: np.random.Generator, population: Population, t_as_of: int, paths: int = 128,
              block: int = 2048) -> np.ndarray:
    """True 12-month PD at the end of month ``t_as_of`` given the hidden health then, by Monte Carlo.

    Conditions on the state the generator knows at the application date and integrates over the future
    shocks it does not, which is the best any model could do. The future innovations do not depend on the
    enterprise (h_k = mu + φ^k (h_0 - mu) + e_k), so each block of enterprises shares ``paths`` draws of e_k, and
    the hazard factorises: 1 - hazard(h) = z / (1 + z) with z = exp(-intercept + slope·(mu + φ^k (h_0 - mu))) ·
    exp(slope·e_k).
    """
    mu = population.mean_health
    gap = population.health[:, t_as_of] - mu
    pd_true = np.empty(len(mu))
    for start in range(0, len(mu), block):
        part = slice(start, start + block)
        e = np.zeros(paths)
        survive = np.ones((len(mu[part]), paths))
        decay = 1.0
        for _ in range(DEFAULT_HORIZON_MONTHS):
            shock = (rng.random(paths) < SHOCK_PROBABILITY) * rng.normal(SHOCK_MEAN, SHOCK_SD, paths)
            e = AR_PERSISTENCE * e + rng.normal(0, AR_VOLATILITY, paths) - shock
            decay *= AR_PERSISTENCE
            enterprise = np.exp(-HAZARD_INTERCEPT + HAZARD_SLOPE * (mu[part] + decay * gap[part]))
            z = enterprise[:, None] * np.exp(HAZARD_SLOPE * e)[None, :]
            survive -= survive / (1.0 + z)
        pd_true[part] = 1.0 - survive.mean(axis=1)
    return pd_true
