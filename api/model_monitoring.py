"""模型监控 over the service database: the champion's stored scores by month against its training baseline, and
its grades against the defaults banks reported (回传) on the loans that followed those scores.

The figures themselves are computed in ``models.monitoring``; this module only assembles its inputs.
docs/regulators.md says what each figure means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import Loan, LoanEvent, ScoreResponse
from api.loans import loan_default_labels
from api.regulator_metrics import MetricsUnavailable, end_of_day
from api.schemas_loans import BUSINESS_TIMEZONE
from config.settings import DEFAULT_DAYS_PAST_DUE, Settings
from features.outcomes import LABEL
from models.artifact import PdModelArtifact
from models.monitoring import (
    Alert,
    BaselineError,
    ScoreBaseline,
    default_rate_by_grade,
    discrimination_alerts,
    drift_alerts,
    log_odds_of,
    psi_by_month,
    reference_auc,
    stored_baseline,
    training_window_baseline,
)

LOAN_FOLLOWS_SCORE_DAYS = 180
"""A score is followed by a loan when the enterprise got a disbursement (any bank) within 180 days of it."""


def applications_path(settings: Settings) -> Path:
    """The region's labelled training table, written by the demo pipeline's profiles stage."""
    return settings.region_dir() / "profiles" / "applications.parquet"


def champion_baseline(artifact: PdModelArtifact, settings: Settings) -> ScoreBaseline:
    """The baseline stored with the model, or else recomputed from the region's training table."""
    baseline = stored_baseline(artifact)
    if baseline is not None:
        return baseline
    path = applications_path(settings)
    if not path.exists():
        raise MetricsUnavailable("The model has no stored score baseline and the training table is not there.")
    columns = ["as_of", *artifact.feature_names]
    try:
        return training_window_baseline(artifact, pd.read_parquet(path, columns=columns))
    except (BaselineError, KeyError) as exc:
        raise MetricsUnavailable(f"No score baseline: {exc}") from None


def stored_scores(session: Session, *, until: date, model_version: str | None = None) -> pd.DataFrame:
    """Scores given up to the end of ``until`` (Beijing), unscorable ones left out: ``uscc``, ``requested_on``,
    ``month`` (YYYY-MM), ``pd``, ``log_odds``, ``grade``; only ``model_version``'s when given."""
    stmt = select(ScoreResponse.uscc, ScoreResponse.requested_at, ScoreResponse.probability_of_default,
                  ScoreResponse.grade).where(ScoreResponse.probability_of_default.is_not(None),
                                             ScoreResponse.requested_at < end_of_day(until))
    if model_version is not None:
        stmt = stmt.where(ScoreResponse.model_version == model_version)
    frame = pd.DataFrame(session.execute(stmt).all(), columns=["uscc", "requested_at", "pd", "grade"])
    frame["requested_on"] = pd.to_datetime(
        [t.astimezone(BUSINESS_TIMEZONE).date() for t in frame["requested_at"]]
    ).astype("datetime64[ns]") if len(frame) else pd.Series(dtype="datetime64[ns]")
    frame["month"] = frame["requested_on"].dt.strftime("%Y-%m")
    frame["pd"] = frame["pd"].astype(float)
    frame["log_odds"] = log_odds_of(frame["pd"]) if len(frame) else pd.Series(dtype=float)
    return frame.drop(columns=["requested_at"])


def matured_scores(
    session: Session, scores: pd.DataFrame, *, observed_until: date, horizon_months: int,
    days_past_due: int = DEFAULT_DAYS_PAST_DUE,
) -> pd.DataFrame:
    """Scores followed by a loan, whose horizon has ended by ``observed_until``, labelled 1 when the enterprise
    went ``days_past_due``+ days past due within the horizon (``api.loans.loan_default_labels``)."""
    disbursed = pd.DataFrame(
        session.execute(select(Loan.uscc, LoanEvent.event_date).join(LoanEvent, LoanEvent.loan_id == Loan.id)
                        .where(LoanEvent.event_type == "disbursement")).all(),
        columns=["uscc", "disbursed_on"],
    )
    if scores.empty or disbursed.empty:
        return scores.iloc[0:0].assign(**{LABEL: pd.Series(dtype=int)})
    disbursed["disbursed_on"] = pd.to_datetime(disbursed["disbursed_on"])
    pairs = scores.reset_index().merge(disbursed, on="uscc")
    followed = pairs[(pairs["disbursed_on"] >= pairs["requested_on"])
                     & (pairs["disbursed_on"] <= pairs["requested_on"] + timedelta(days=LOAN_FOLLOWS_SCORE_DAYS))]
    applications = scores.loc[followed["index"].unique()].assign(as_of=lambda f: f["requested_on"])
    return loan_default_labels(session, applications.reset_index(drop=True),
                               observed_until=pd.Timestamp(observed_until), horizon_months=horizon_months,
                               days_past_due=days_past_due)


@dataclass(frozen=True)
class MonitoringReport:
    """The champion's drift by month, performance by grade, and the alerts they raise."""

    as_of: date
    model_version: str
    baseline: ScoreBaseline
    drift: pd.DataFrame
    grades: pd.DataFrame
    alerts: list[Alert] = field(default_factory=list)


def monitoring_report(
    session: Session, settings: Settings, artifact: PdModelArtifact, model_version: str, *, as_of: date,
    baseline: ScoreBaseline | None = None,
) -> MonitoringReport:
    """PSI by month of the version's stored scores against its baseline, default rate by grade and AUC on
    matured loans, and an alert for each band crossed."""
    baseline = baseline or champion_baseline(artifact, settings)
    scores = stored_scores(session, until=as_of, model_version=model_version)
    drift = psi_by_month(baseline, scores)
    matured = matured_scores(session, scores, observed_until=as_of, horizon_months=settings.default_horizon_months,
                             days_past_due=settings.default_days_past_due)
    grades = default_rate_by_grade(matured, LABEL)
    alerts = drift_alerts(drift, settings.monitoring_min_scores) + discrimination_alerts(
        grades, reference_auc(artifact), min_each=settings.monitoring_min_defaults)
    return MonitoringReport(as_of, model_version, baseline, drift, grades, alerts)
