"""分析师: retrain on new loan outcomes and compare the challenger with the champion — the steps the analyst
notebooks and ``xinyi analyst`` share, so no logic lives only in a notebook.

The retraining table is the region's profiles at each application date, labelled from every default known:
the outcomes file the region came with (回传 before the platform) and the loan reports banks have stored since
(``api.loans.loan_defaults``). Training, registration and the promotion rule are ``models``' own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.loans import loan_defaults
from config.settings import DEFAULT_DAYS_PAST_DUE, Settings
from features.catalogue import FEATURE_NAMES, FEATURE_SPECS
from features.outcomes import LABEL, label_applications, load_defaults
from models.artifact import ScorecardScale
from models.generic import TableSpec
from models.history import CHALLENGER, default_history_path
from models.promotion import PromotionDecision, PromotionRule, promote
from models.registry import RegisteredModel
from models.workflow import ValidationRun, register_run, train_and_validate

REPORTING_LAG_MONTHS = 4
"""Outcomes are complete up to four months before today: banks report a default within four months (回传)."""


def region_profiles_path(settings: Settings) -> Path:
    """The region's profiles at each application date (written by the demo pipeline's profiles stage)."""
    return settings.region_dir() / "profiles" / "applications.parquet"


def region_outcomes_path(settings: Settings) -> Path:
    """The outcomes file the region came with."""
    return settings.region_dir() / "outcomes" / "defaults.csv"


def retraining_table_path(settings: Settings) -> Path:
    """Where ``xinyi analyst retrain`` writes the table it trained on (``compare`` reads it back)."""
    return settings.region_dir() / "profiles" / "retraining.parquet"


def profile_overview(profiles: pd.DataFrame) -> pd.DataFrame:
    """企业画像 at a glance: per catalogue feature its source, words, share missing (and what missing means),
    median and 90th percentile over the given profiles."""
    rows = []
    for name in FEATURE_NAMES:
        if name not in profiles.columns:
            continue
        spec, values = FEATURE_SPECS[name], pd.to_numeric(profiles[name], errors="coerce")
        rows.append({"feature": name, "source": spec.source, "label_zh": spec.label_zh, "label_en": spec.label_en,
                     "missing_share": float(values.isna().mean()), "missing_means": spec.missing_means,
                     "median": values.median(), "p90": values.quantile(0.9)})
    return pd.DataFrame(rows)


def default_rate_by(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """Applications and realised default rate by one column of a labelled table (a segment code, say)."""
    return (table.groupby(column, dropna=False)[LABEL].agg(applications="size", default_rate="mean")
            .reset_index().sort_values(column, ignore_index=True))


def default_observed_until(today: date) -> pd.Timestamp:
    """The last month-end whose outcomes are complete: four months before ``today``."""
    return (pd.Timestamp(today) - pd.DateOffset(months=REPORTING_LAG_MONTHS)) + pd.offsets.MonthEnd(0)


def known_defaults(
    engine: Engine, outcomes_file: Path | None, *, days_past_due: int = DEFAULT_DAYS_PAST_DUE
) -> pd.DataFrame:
    """Every default known: the outcomes file (if given and present) and the stored loan reports, read with the
    default definition's days-past-due threshold (``Settings.default_days_past_due``)."""
    with Session(engine) as session:
        reported = loan_defaults(session, days_past_due=days_past_due)
    frames = [reported]
    if outcomes_file is not None and outcomes_file.exists():
        frames.insert(0, load_defaults(outcomes_file))
    return pd.concat(frames, ignore_index=True)


def retraining_table(profiles: pd.DataFrame, defaults: pd.DataFrame, *, observed_until: pd.Timestamp,
                     horizon_months: int) -> pd.DataFrame:
    """Profiles (``uscc``, ``as_of``, features; an old label is dropped) labelled afresh from ``defaults``;
    profiles whose horizon has not ended by ``observed_until`` are left out."""
    unlabelled = profiles.drop(columns=[LABEL], errors="ignore")
    unlabelled = unlabelled.assign(as_of=pd.to_datetime(unlabelled["as_of"]))
    return label_applications(unlabelled, defaults, observed_until=observed_until, horizon_months=horizon_months)


@dataclass(frozen=True)
class Retrained:
    """A retraining: the table's size and default rate, the validation run, and what was registered."""

    rows: int
    default_rate: float
    run: ValidationRun
    registered: RegisteredModel | None


def retrain(settings: Settings, table: pd.DataFrame, *, register: bool = True, num_threads: int = 1) -> Retrained:
    """Train and validate on ``table`` with the settings' out-of-time window, gap and calibration, and register the
    model as ``challenger`` (unless ``register`` is False)."""
    scale = ScorecardScale(settings.score_anchor_points, settings.score_anchor_odds, settings.score_pdo,
                           settings.score_min, settings.score_max)
    run = train_and_validate(table, TableSpec(features=FEATURE_NAMES), seed=settings.seed,
                             oot_months=settings.model_oot_months,
                             gap_months=settings.resolved_model_gap_months, calibration=settings.model_calibration,
                             num_threads=num_threads, scale=scale)
    registered = None
    if register:
        registered = register_run(run, tracking_uri=settings.resolved_mlflow_uri,
                                  artifact_location=settings.mlflow_artifact_dir, model_name=settings.model_name,
                                  alias=CHALLENGER, history_path=history_path(settings))
    return Retrained(len(table), float(table[LABEL].mean()), run, registered)


def history_path(settings: Settings) -> Path:
    """The champion history file the settings name, or its default beside the MLflow store."""
    return settings.champion_history_path or default_history_path(settings.resolved_mlflow_uri, settings.model_name)


def compare(settings: Settings, table: pd.DataFrame, *, version: str | None = None,
            apply: bool = False) -> PromotionDecision:
    """Challenger (or ``version``) against the champion on the same out-of-time rows of ``table``, judged by
    the settings' promotion rule; the champion moves only when ``apply`` is True and the rule accepts."""
    return promote(settings.resolved_mlflow_uri, settings.model_name, table, version=version,
                   rule=PromotionRule(settings.promotion_max_auc_drop, settings.promotion_max_ece),
                   history_path=history_path(settings), dry_run=not apply)
