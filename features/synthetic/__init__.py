"""Seeded synthetic region: the stand-in for the government feeds and the yardstick for model quality.

``generate_region`` writes every public-credit source as the platform would receive it (docs/data-sources.md):
feeds in CSV, Parquet and JSON Lines, UTF-8 or GB18030, providers' column names, listed in
``raw/manifest.json``, with corrections and a few dirty rows. Beside them go the banks' default reports in
``outcomes/`` and, apart from everything the model may see, ``truth/``: the true PD per (enterprise,
application date) and the rule each dirty row must fail. Same seed, same files.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from features.atomic import replace_folder, staging_folder
from features.schemas import SOURCES, SOURCES_BY_NAME
from features.synthetic.dirty import spoil
from features.synthetic.dirty_menu import Context
from features.synthetic.feeds import DEMO_FEEDS, Feed, split, write_feed
from features.synthetic.population import (
    DEFAULT_HORIZON_MONTHS,
    Population,
    Timeline,
    build_population,
    oracle_pd,
)
from features.synthetic.sources_monthly import (
    headcount,
    housing_fund_monthly,
    social_insurance_monthly,
    tax_credit_grade,
    tax_monthly,
    utilities_monthly,
)
from features.synthetic.sources_records import admin_records, commitments, judicial, list_entries, registration

log = logging.getLogger(__name__)

DEFAULT_EXTRACTED_ON = date(2026, 10, 31)
HISTORY_MONTHS = 64  # five development dates survive the 12-month gap before the out-of-time window
REPORTING_LAG_DAYS = 120  # banks report a default within four months (回传)
DIRTY_ROWS_COLUMNS = ("source", "file", "line", "rule", "field")


@dataclass(frozen=True)
class RegionFiles:
    """Where a generated region lives: raw feeds, bank outcome reports and the hidden truth."""

    root: Path

    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    @property
    def manifest_path(self) -> Path:
        return self.raw_dir / "manifest.json"

    @property
    def outcomes_path(self) -> Path:
        return self.root / "outcomes" / "defaults.csv"

    @property
    def oracle_path(self) -> Path:
        return self.root / "truth" / "oracle_pd.parquet"

    @property
    def dirty_rows_path(self) -> Path:
        """Every dirty row of the feeds: source, file, line, the rule it must fail and the field reported."""
        return self.root / "truth" / "dirty_rows.csv"


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


def build_sources(rng: np.random.Generator, pop: Population) -> dict[str, pa.Table]:
    """Every source as clean canonical string tables, each from its own random stream."""
    streams = iter(rng.spawn(12))
    tax, filings = tax_monthly(next(streams), pop)
    grade, grades = tax_credit_grade(next(streams), pop, filings)
    people = headcount(next(streams), pop)
    dishonest_table, dishonest = judicial(next(streams), pop)
    tables = {
        "registration": registration(next(streams), pop),
        "tax_monthly": tax,
        "tax_credit_grade": grade,
        "social_insurance_monthly": social_insurance_monthly(next(streams), pop, people),
        "housing_fund_monthly": housing_fund_monthly(next(streams), pop, people),
        "utilities_monthly": utilities_monthly(next(streams), pop),
        "admin_records": admin_records(next(streams), pop),
        "judicial": dishonest_table,
        "list_entries": list_entries(next(streams), pop, dishonest, grades),
        "commitments": commitments(next(streams), pop),
    }
    return {spec.name: tables[spec.name] for spec in SOURCES}


def _write_feeds(rng: np.random.Generator, tables: dict[str, pa.Table], feeds: tuple[Feed, ...], raw_dir: Path,
                 context: Context) -> list[tuple[str, str, int, str, str]]:
    """Split each source over its feeds, spoil a few rows of each and write them; returns the dirty rows."""
    dirty_rows: list[tuple[str, str, int, str, str]] = []
    for source, table in tables.items():
        source_feeds = [feed for feed in feeds if feed.source == source]
        if not source_feeds:
            raise ValueError(f"no feed carries {source}")
        for feed, part in zip(source_feeds, split(table, source_feeds), strict=True):
            spoilt, dirty = spoil(rng, SOURCES_BY_NAME[source], part, context, lines=feed.format != "parquet")
            write_feed(spoilt, feed, raw_dir, [d.row for d in dirty if d.rule == "row.format"])
            lines = feed.line_of(np.array([d.row for d in dirty], dtype=np.int64))
            dirty_rows += [(source, feed.path, int(line), d.rule, d.field)
                           for line, d in zip(lines, dirty, strict=True)]
            log.info("wrote %s: %d rows, %d dirty", feed.path, spoilt.num_rows, len(dirty))
    return dirty_rows


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def _dirty_rows_text(rows: list[tuple[str, str, int, str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DIRTY_ROWS_COLUMNS)
    writer.writerows(rows)
    return out.getvalue()


def generate_region(
    root: Path,
    *,
    n_enterprises: int,
    seed: int,
    region: str = "demo",
    extracted_on: date = DEFAULT_EXTRACTED_ON,
    feeds: tuple[Feed, ...] = DEMO_FEEDS,
) -> RegionFiles:
    """Write a synthetic region under ``root``, replaced atomically: a failure leaves the old one."""
    rng = np.random.default_rng(seed)
    end = pd.Timestamp(extracted_on)
    months = pd.date_range(
        end=end.to_period("M").to_timestamp() - pd.offsets.MonthBegin(1), periods=HISTORY_MONTHS, freq="MS"
    )
    pop = build_population(rng, n_enterprises, Timeline(months=months, extracted_on=end))
    sources_rng, dirt_rng, outcomes_rng, truth_rng = rng.spawn(4)
    staging = staging_folder(root)  # owner-named: a killed run's leftover is removed by the next one
    try:
        files = RegionFiles(staging)
        context = Context(dirt_rng, extracted_on, frozenset(pop.registration["uscc"]))
        dirty_rows = _write_feeds(dirt_rng, build_sources(sources_rng, pop), feeds, files.raw_dir, context)
        manifest = {
            "region": region,
            "extracted_on": str(extracted_on),
            "seed": seed,
            "enterprises": n_enterprises,
            "history_months": HISTORY_MONTHS,
            "feeds": [feed.manifest_entry() for feed in feeds],
        }
        files.manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _write_csv(_outcomes(outcomes_rng, pop), files.outcomes_path)
        files.oracle_path.parent.mkdir(parents=True, exist_ok=True)
        _truth(truth_rng, pop).to_parquet(files.oracle_path, index=False)
        files.dirty_rows_path.write_text(_dirty_rows_text(dirty_rows), encoding="utf-8")
        replace_folder(staging, root)  # readers see the old region or the new one, never neither
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return RegionFiles(root)
