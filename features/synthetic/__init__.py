"""Seeded synthetic region: the stand-in for the government feeds and the yardstick for model quality.

``generate_region`` writes raw source files as the platform would receive them (docs/raw-files.md), the
banks' default reports in ``outcomes/``, and, apart from everything the model may see, the true PD per
(enterprise, application date) in ``truth/``. Same seed, same files.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from features.synthetic.dirty import spoil
from features.synthetic.population import (
    DEFAULT_HORIZON_MONTHS,
    Population,
    Timeline,
    build_population,
    oracle_pd,
)
from features.synthetic.sources import (
    admin_records,
    judicial,
    list_entries,
    social_insurance_monthly,
    tax_monthly,
    utilities_monthly,
)

log = logging.getLogger(__name__)

DEFAULT_EXTRACTED_ON = date(2026, 10, 31)
HISTORY_MONTHS = 52
REPORTING_LAG_DAYS = 120  # banks report a default within four months (回传)
_AVAILABILITY = {
    "tax_monthly": "filed_on",
    "social_insurance_monthly": "available_on",
    "utilities_monthly": "available_on",
    "admin_records": "published_on",
}


@dataclass(frozen=True)
class RegionFiles:
    """Where a generated region lives: raw feeds, bank outcome reports and the hidden truth."""

    root: Path

    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    @property
    def outcomes_path(self) -> Path:
        return self.root / "outcomes" / "defaults.csv"

    @property
    def oracle_path(self) -> Path:
        return self.root / "truth" / "oracle_pd.parquet"


def application_months(timeline: Timeline) -> list[int]:
    """Month indices of the application dates: quarter ends with 12 months of history and of outcome."""
    last = timeline.size - 1 - DEFAULT_HORIZON_MONTHS
    return [t for t in range(12, last + 1) if timeline.months[t].month % 3 == 0]


def _eligible(pop: Population, t: int) -> np.ndarray:
    founded = pop.founded_month <= t
    not_defaulted = (pop.default_month < 0) | (pop.default_month > t)
    open_ = (pop.closed_month < 0) | (pop.closed_month > t)
    return founded & not_defaulted & open_


def _truth(rng: np.random.Generator, pop: Population) -> pd.DataFrame:
    frames = []
    for t in application_months(pop.timeline):
        idx = np.nonzero(_eligible(pop, t))[0]
        sub = Population(**{**pop.__dict__, "health": pop.health[idx], "mean_health": pop.mean_health[idx]})
        pd_true = oracle_pd(rng, sub, t)
        frames.append(
            pd.DataFrame(
                {
                    "uscc": pop.registration["uscc"].to_numpy()[idx],
                    "as_of": pd.Timestamp(pop.timeline.month_end(np.array([t]))[0]),
                    "true_pd": pd_true,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _outcomes(rng: np.random.Generator, pop: Population) -> pd.DataFrame:
    """Defaults as banks report them, some months after they happen; the extract holds those reported."""
    i = np.nonzero(pop.default_month >= 0)[0]
    t = pop.default_month[i]
    reported = pop.timeline.month_end(t) + rng.integers(30, REPORTING_LAG_DAYS, len(i)).astype("timedelta64[D]")
    frame = pd.DataFrame(
        {
            "uscc": pop.registration["uscc"].to_numpy()[i],
            "default_month": pop.timeline.months.strftime("%Y-%m").to_numpy()[t],
            "reported_on": reported.astype(str),
        }
    )
    return frame[frame["reported_on"] <= str(pop.timeline.extracted_on.date())].reset_index(drop=True)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def generate_region(
    root: Path,
    *,
    n_enterprises: int,
    seed: int,
    region: str = "demo",
    extracted_on: date = DEFAULT_EXTRACTED_ON,
) -> RegionFiles:
    """Write a synthetic region under ``root``, replaced atomically: a failure leaves the old one."""
    rng = np.random.default_rng(seed)
    end = pd.Timestamp(extracted_on)
    months = pd.date_range(
        end=end.to_period("M").to_timestamp() - pd.offsets.MonthBegin(1), periods=HISTORY_MONTHS, freq="MS"
    )
    pop = build_population(rng, n_enterprises, Timeline(months=months, extracted_on=end))
    staging = root.with_name(root.name + f".staging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        files = RegionFiles(staging)
        registration = pop.registration.copy()
        registration["founded_on"] = registration["founded_on"].astype(str)
        registration["available_on"] = registration["available_on"].astype(str)
        dishonest = judicial(rng, pop)
        tables = {
            "registration": registration,
            "tax_monthly": tax_monthly(rng, pop),
            "social_insurance_monthly": social_insurance_monthly(rng, pop),
            "utilities_monthly": utilities_monthly(rng, pop),
            "admin_records": admin_records(rng, pop),
            "judicial": dishonest,
            "list_entries": list_entries(rng, pop, dishonest),
        }
        for source, frame in tables.items():
            column = _AVAILABILITY.get(source)
            if column is not None:  # what had not reached the platform by extraction is not in the extract
                frame = frame[frame[column] <= str(extracted_on)]
            _write_csv(spoil(rng, source, frame, str(extracted_on)), files.raw_dir / f"{source}.csv")
            log.info("wrote %s: %d rows", source, len(frame))
        manifest = {
            "region": region,
            "extracted_on": str(extracted_on),
            "seed": seed,
            "enterprises": n_enterprises,
            "history_months": HISTORY_MONTHS,
        }
        (files.raw_dir / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        _write_csv(_outcomes(rng, pop), files.outcomes_path)
        files.oracle_path.parent.mkdir(parents=True, exist_ok=True)
        _truth(rng, pop).to_parquet(files.oracle_path, index=False)
        if root.exists():
            shutil.rmtree(root)
        staging.rename(root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return RegionFiles(root)
