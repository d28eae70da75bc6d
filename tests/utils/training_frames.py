"""Factories for synthetic training frames in the features → models contract, and a cached small model."""

from __future__ import annotations

import zlib
from functools import lru_cache

import numpy as np
import pandas as pd

from features.catalogue import FEATURE_NAMES, FEATURE_SPECS
from features.uscc import make_uscc

# Share of NaN for features whose catalogue says missing can happen; the rest are never missing.
_MISSING_SHARE = {
    "sales_12m_log": 0.05,
    "sales_growth_6m": 0.10,
    "headcount_latest": 0.08,
    "headcount_change_6m": 0.12,
    "electricity_change_6m": 0.20,
}


def make_usccs(n: int) -> list[str]:
    """``n`` distinct valid enterprise codes (department 9, type 1, region 110000)."""
    return [make_uscc("9", "1", "110000", f"{i:08d}") for i in range(n)]


def make_training_frame(
    n_enterprises: int = 2_000,
    n_dates: int = 8,
    *,
    months_between: int = 3,
    start: str = "2021-01-01",
    signal: float = 1.2,
    intercept: float = -3.6,
    seed: int = 0,
) -> pd.DataFrame:
    """A panel of ``n_enterprises`` × ``n_dates`` rows: uscc, as_of, default_12m and every catalogue feature.

    A latent risk per (enterprise, date) drives both the features and the default label with strength
    ``signal`` (0 gives labels unrelated to the features); ``intercept`` sets the default rate (≈5 %).
    """
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=n_dates, freq=f"{months_between}MS")
    n = n_enterprises * n_dates
    enterprise = np.repeat(np.arange(n_enterprises), n_dates)
    step = np.tile(np.arange(n_dates), n_enterprises)
    persistent = rng.normal(size=n_enterprises)[enterprise]
    risk = 0.8 * persistent + 0.6 * rng.normal(size=n)
    size = rng.choice(4, size=n_enterprises, p=[0.55, 0.3, 0.12, 0.03])[enterprise].astype(float)

    def poisson(log_rate: np.ndarray, cap: float | None = None) -> np.ndarray:
        out = rng.poisson(np.exp(log_rate)).astype(float)
        return np.minimum(out, cap) if cap is not None else out

    def bernoulli(logit: np.ndarray) -> np.ndarray:
        return (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)

    features = {
        "age_months": rng.exponential(60, n_enterprises)[enterprise] + 6 + months_between * step,
        "registered_capital_log": rng.normal(13 + 0.5 * size, 1.2),
        "size_class_code": size,
        "sales_12m_log": rng.normal(14 + size - 0.3 * risk, 1.0),
        "sales_growth_6m": rng.normal(0.05 - 0.1 * risk, 0.2),
        "tax_filed_months_12m": 12 - poisson(-1.5 + 0.6 * risk, cap=12),
        "tax_overdue_months_12m": poisson(-2.0 + 0.8 * risk, cap=12),
        "headcount_latest": np.round(np.exp(rng.normal(1.5 + 0.8 * size - 0.2 * risk, 0.8))),
        "headcount_change_6m": rng.normal(-0.05 * risk, 0.1),
        "si_arrears_months_12m": poisson(-1.8 + 0.9 * risk, cap=12),
        "utility_late_months_12m": poisson(-1.5 + 0.5 * risk, cap=12),
        "electricity_change_6m": rng.normal(-0.05 * risk, 0.2),
        "penalties_active": poisson(-1.6 + 0.4 * risk),
        "penalty_severe_active": bernoulli(-4.0 + 0.6 * risk),
        "licences_24m": poisson(0.0 - 0.1 * risk),
        "dishonest_debtor_active": bernoulli(-5.0 + 1.2 * risk),
        "enforcement_cases_active": poisson(-3.0 + 0.9 * risk),
        "abnormal_list_active": bernoulli(-4.0 + 0.7 * risk),
        "black_list_active": bernoulli(-6.0 + 1.0 * risk),
        "red_list_active": bernoulli(-3.0 - 0.5 * risk),
    }
    features["si_arrears_months_3m"] = np.minimum(features["si_arrears_months_12m"], 3.0)
    features["utility_late_months_3m"] = np.minimum(features["utility_late_months_12m"], 3.0)
    for name in FEATURE_NAMES:
        if name not in features:  # a catalogue feature this factory does not know yet: a weak count signal,
            # drawn from its own stream so that a feature added to the catalogue changes no other column or label
            riskier = FEATURE_SPECS[name].higher_is_riskier
            own = np.random.default_rng([seed, zlib.crc32(name.encode())])
            slope = 0.3 if riskier else -0.3 if riskier is False else 0.0
            features[name] = own.poisson(np.exp(-1.0 + slope * risk)).astype(float)
    for name, share in _MISSING_SHARE.items():
        features[name] = np.where(rng.random(n) < share, np.nan, features[name])
    usccs = np.asarray(make_usccs(n_enterprises), dtype=object)
    frame = pd.DataFrame(
        {
            "uscc": usccs[enterprise],
            "as_of": dates[step],
            "default_12m": bernoulli(intercept + signal * risk).astype(np.int64),
        }
    )
    for name in FEATURE_NAMES:
        frame[name] = np.asarray(features[name], dtype=np.float64)
    return frame


@lru_cache(maxsize=1)
def small_trained_model():  # type: ignore[no-untyped-def]
    """One small model trained on a 1,500-enterprise panel, shared by every test module in a session."""
    from models.train import train_pd_model

    frame = make_training_frame(n_enterprises=1_500, n_dates=8, seed=7)
    return train_pd_model(frame, FEATURE_NAMES, seed=11, num_threads=1)


@lru_cache(maxsize=1)
def small_validation_run():  # type: ignore[no-untyped-def]
    """One train-and-validate run (model, baselines, report) on a 1,000-enterprise panel, shared per session.

    Segment columns get realistic codes (industry A–T as 0–19, two provinces, four sizes) so the report's
    per-segment tables have several rows.
    """
    from models.workflow import train_and_validate

    frame = make_training_frame(n_enterprises=1_000, n_dates=8, seed=13)
    rng = np.random.default_rng(13)
    per_enterprise = frame.groupby("uscc").ngroup().to_numpy()
    frame["industry_section_code"] = rng.integers(0, 6, per_enterprise.max() + 1)[per_enterprise].astype(float)
    frame["region_province_code"] = rng.choice([41.0, 42.0], per_enterprise.max() + 1)[per_enterprise]
    return frame, train_and_validate(frame, seed=5)


def make_generic_table(n: int = 3_000, *, seed: int = 0, dated: bool = True) -> pd.DataFrame:
    """A bank's own table: loan_id, booked_on, bad, two informative columns, noise, a text, a constant and an ID."""
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "loan_id": np.arange(100_000, 100_000 + n),
            "bad": (rng.random(n) < 1 / (1 + np.exp(-(-2.5 + 1.3 * risk)))).astype(int),
            "debt_ratio": risk + rng.normal(scale=0.7, size=n),
            "months_on_book": np.where(rng.random(n) < 0.1, np.nan, 40 - 8 * risk + rng.normal(scale=6, size=n)),
            "noise": rng.normal(size=n),
            "branch": rng.choice(["north", "south"], n),
            "product_version": 3.0,
            "row_number": np.arange(n, dtype=float),
        }
    )
    if dated:
        frame.insert(1, "booked_on", pd.Timestamp("2022-01-31") + pd.to_timedelta(rng.integers(0, 730, n), "D"))
    return frame
