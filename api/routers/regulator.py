"""监管: regulators (and analysts) read the platform's figures, each table as JSON or, with ``?format=csv``, CSV."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel

from api.db.models import Account
from api.deps import AppSettings, CurrentAccount, DbSession
from api.errors import Forbidden, ServiceUnavailable
from api.model_monitoring import MonitoringReport, champion_baseline, monitoring_report
from api.regulator_metrics import (
    Dimension,
    Period,
    beijing_today,
    coverage,
    credit_lending,
    data_quality,
    policy_declines,
    quality_report_path,
    report_quality,
)
from api.routers.problems import problem_responses
from api.schemas_regulator import (
    AlertRow,
    CoverageRow,
    CreditLendingRow,
    DataQualityRow,
    DriftRow,
    GradeRow,
    LoanReportQualityRow,
    MetricTable,
    MonitoringTable,
    PolicyDeclineRow,
)
from models.monitoring import alerts_table
from scoring.service import ScoreService

router = APIRouter(prefix="/v1/regulator", tags=["regulator"])
READER_ROLES = ("regulator", "analyst")


def metrics_reader(account: CurrentAccount) -> Account:
    """A regulator or analyst account; 403 for any other role."""
    if account.role not in READER_ROLES:
        raise Forbidden("These figures are for regulator and analyst accounts.")
    return account


MetricsReader = Annotated[Account, Depends(metrics_reader)]
TableFormat = Annotated[Literal["json", "csv"], Query(alias="format", description="json (default) or csv.")]
EARLIEST, LATEST = date(1990, 1, 1), date(2100, 12, 31)
AsOf = Annotated[date | None, Query(ge=EARLIEST, le=LATEST,
                                    description="The date the figures stand at (Beijing); default today.")]
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The table (JSON or CSV)"},
    **problem_responses(401, 403, 422),
}


def json_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The frame's rows as dicts with missing values as None (JSON null)."""
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{str(key): value for key, value in record.items()} for record in records]


def csv_response(frame: pd.DataFrame, *, name: str, as_of: date) -> Response:
    """The table as a CSV download named after the table and date."""
    body = frame.to_csv(index=False, lineterminator="\n")
    return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}-{as_of.isoformat()}.csv"'})


def table_response(
    frame: pd.DataFrame, row: type[BaseModel], *, name: str, as_of: date, fmt: str
) -> MetricTable[Any] | Response:
    """The table as ``MetricTable`` JSON, or as a CSV download named after the table and date."""
    if fmt == "csv":
        return csv_response(frame, name=name, as_of=as_of)
    rows = [row.model_validate(record) for record in json_rows(frame)]
    return MetricTable[row](as_of=as_of, rows=rows)  # type: ignore[valid-type]


@router.get("/coverage", name="regulator.coverage", response_model=MetricTable[CoverageRow], responses=RESPONSES,
            summary="Platform coverage against the targets (registered, authorised, banks connected)")
def get_coverage(reader: MetricsReader, session: DbSession, settings: AppSettings, as_of: AsOf = None,
                 fmt: TableFormat = "json") -> Any:
    """Enterprises registered and authorised over existing enterprises, banks connected over all banks."""
    day = as_of or beijing_today()
    frame = pd.DataFrame([line.__dict__ for line in coverage(session, settings, as_of=day)])
    return table_response(frame, CoverageRow, name="coverage", as_of=day, fmt=fmt)


@router.get("/credit-lending", name="regulator.credit_lending", response_model=MetricTable[CreditLendingRow],
            responses=RESPONSES, summary="信用贷款: credit-loan volume, balance and 年增速 by month or year")
def get_credit_lending(
    reader: MetricsReader, session: DbSession,
    by: Annotated[Dimension, Query(description="Group rows by platform (all), bank, region, industry or size_class.")]
    = "platform",
    period: Annotated[Period, Query(description="month or year.")] = "month",
    as_of: AsOf = None, fmt: TableFormat = "json",
) -> Any:
    """Credit-loan disbursements, month-end balance, growth over a year before, and first-time borrowers."""
    day = as_of or beijing_today()
    frame = credit_lending(session, by=by, period=period, as_of=day)
    return table_response(frame, CreditLendingRow, name=f"credit-lending-{by}-{period}", as_of=day, fmt=fmt)


@router.get("/loan-reports", name="regulator.loan_reports", response_model=MetricTable[LoanReportQualityRow],
            responses=RESPONSES, summary="Each bank's loan-report timeliness and completeness (回传)")
def get_loan_reports(reader: MetricsReader, session: DbSession, settings: AppSettings, as_of: AsOf = None,
                     fmt: TableFormat = "json") -> Any:
    """Days from each event to its report, and how many disbursed loans were followed up or resolved."""
    day = as_of or beijing_today()
    frame = report_quality(session, settings, as_of=day)
    return table_response(frame, LoanReportQualityRow, name="loan-reports", as_of=day, fmt=fmt)


@router.get("/data-quality", name="regulator.data_quality", response_model=MetricTable[DataQualityRow],
            responses={**RESPONSES, **problem_responses(404)},
            summary="数据质量 per source and providing department, from the latest ingest")
def get_data_quality(reader: MetricsReader, settings: AppSettings, fmt: TableFormat = "json") -> Any:
    """Qualified, wrong-USCC and duplicate rates of each source and department; 404 before the first ingest."""
    frame = data_quality(quality_report_path(settings))
    return table_response(frame, DataQualityRow, name="data-quality", as_of=beijing_today(), fmt=fmt)


@router.get("/policy-declines", name="regulator.policy_declines", response_model=MetricTable[PolicyDeclineRow],
            responses=RESPONSES, summary="联合惩戒: scores each policy rule applied to, and declines")
def get_policy_declines(
    reader: MetricsReader, session: DbSession,
    since: Annotated[date | None, Query(ge=EARLIEST, le=LATEST, description="First day of scores counted (Beijing).")]
    = None,
    until: Annotated[date | None, Query(ge=EARLIEST, le=LATEST,
                                        description="Last day of scores counted (Beijing); default today.")] = None,
    fmt: TableFormat = "json",
) -> Any:
    """Per rule: scores it applied to, distinct enterprises, and how many of those scores were declined."""
    day = until or beijing_today()
    frame = policy_declines(session, since=since, until=day)
    return table_response(frame, PolicyDeclineRow, name="policy-declines", as_of=day, fmt=fmt)


# --- model monitoring ---------------------------------------------------------------------------------------


def champion_monitoring(request: Request, reader: MetricsReader, session: DbSession, settings: AppSettings,
                        as_of: AsOf = None) -> MonitoringReport:
    """The loaded champion's monitoring report; 503 when no model is loaded. The baseline is kept per version."""
    provider = request.app.state.score_provider
    if not isinstance(provider, ScoreService):
        raise ServiceUnavailable("No scoring model is loaded, so there is nothing to monitor.")
    cached = getattr(request.app.state, "monitoring_baseline", None)
    if cached is None or cached[0] != provider.model_version:
        cached = (provider.model_version, champion_baseline(provider.artifact, settings))
        request.app.state.monitoring_baseline = cached
    return monitoring_report(session, settings, provider.artifact, provider.model_version,
                             as_of=as_of or beijing_today(), baseline=cached[1])


ChampionMonitoring = Annotated[MonitoringReport, Depends(champion_monitoring)]
MONITORING_RESPONSES = {**RESPONSES, **problem_responses(404, 503)}


def monitoring_response(report: MonitoringReport, frame: pd.DataFrame, row: type[BaseModel], *, name: str,
                        fmt: str) -> Any:
    """A monitoring table as JSON (with the model version and baseline) or CSV."""
    if fmt == "csv":
        return csv_response(frame, name=f"{name}-v{report.model_version}", as_of=report.as_of)
    rows = [row.model_validate(record) for record in json_rows(frame)]
    return MonitoringTable[row](as_of=report.as_of, rows=rows, model_version=report.model_version,  # type: ignore[valid-type]
                                baseline_source=report.baseline.source)


@router.get("/monitoring/drift", name="regulator.monitoring_drift", response_model=MonitoringTable[DriftRow],
            responses=MONITORING_RESPONSES, summary="Score drift: PSI by month against the training baseline")
def get_drift(report: ChampionMonitoring, fmt: TableFormat = "json") -> Any:
    """PSI of each month's stored scores of the champion against its training score distribution."""
    return monitoring_response(report, report.drift, DriftRow, name="score-drift", fmt=fmt)


@router.get("/monitoring/grades", name="regulator.monitoring_grades", response_model=MonitoringTable[GradeRow],
            responses=MONITORING_RESPONSES, summary="Realised default rate by grade and AUC on matured loans")
def get_grades(report: ChampionMonitoring, fmt: TableFormat = "json") -> Any:
    """Scores followed by a loan whose horizon has ended, by grade, against the defaults banks reported."""
    return monitoring_response(report, report.grades, GradeRow, name="grade-performance", fmt=fmt)


@router.get("/monitoring/alerts", name="regulator.monitoring_alerts", response_model=MonitoringTable[AlertRow],
            responses=MONITORING_RESPONSES, summary="告警: monitored figures that crossed their band")
def get_alerts(report: ChampionMonitoring, fmt: TableFormat = "json") -> Any:
    """One alert per month in the PSI watch or act band, and one when the AUC fell below the training AUC."""
    return monitoring_response(report, alerts_table(report.alerts), AlertRow, name="monitoring-alerts", fmt=fmt)
