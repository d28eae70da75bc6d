"""Regulator pages: coverage, credit lending and its growth (chart), loan-report timeliness, data quality,
policy declines and model monitoring, each table downloadable as CSV.

Figures come from ``api.regulator_metrics`` and ``models.monitoring`` (the same functions as the regulator API);
this module only lays them out and draws the charts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api import regulator_metrics as metrics
from api.deps import AppSettings, DbSession
from api.errors import ApiError
from api.model_monitoring import MonitoringReport
from api.portal.charts import bar_line_chart, line_chart
from api.portal.i18n import text
from api.portal.rendering import language_of, render
from api.portal.sessions import PortalLogin, PortalRegulator
from api.routers.regulator import champion_monitoring
from config.settings import Settings
from models.monitoring import alerts_table

router = APIRouter(prefix="/regulator")
Dimension = metrics.Dimension
PSI_BANDS = (0.1, 0.25)


@dataclass(frozen=True)
class Table:
    """One regulator table: its page, its words, and how its figures are computed."""

    name: str
    title_key: str
    intro_key: str
    compute: Callable[[Session, Settings], pd.DataFrame]


def _coverage(db: Session, settings: Settings) -> pd.DataFrame:
    return pd.DataFrame([asdict(line) for line in metrics.coverage(db, settings)])


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table("coverage", "reg.coverage.title", "reg.coverage.intro", _coverage),
        Table("timeliness", "reg.timeliness.title", "reg.timeliness.intro",
              lambda db, s: metrics.report_quality(db, s)),
        Table("quality", "reg.quality.title", "reg.quality.intro",
              lambda db, s: metrics.data_quality(metrics.quality_report_path(s))),
        Table("declines", "reg.declines.title", "reg.declines.intro", lambda db, s: metrics.policy_declines(db)),
    )
}


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): (None if isinstance(v, float) and pd.isna(v) else v) for k, v in row.items()}
            for row in frame.to_dict("records")]


def _table_page(request: Request, login: PortalLogin, db: Session, settings: Settings, name: str) -> Response:
    table = TABLES[name]
    context: dict[str, Any] = {"title_key": table.title_key, "intro_key": table.intro_key,
                               "csv_url": request.url_for("portal.regulator.csv", table=name), "unavailable": None}
    try:
        frame = table.compute(db, settings)
    except ApiError as exc:
        context["unavailable"] = exc.detail
        frame = pd.DataFrame()
    context |= {"columns": list(frame.columns), "rows": _rows(frame)}
    return render(request, "regulator/table.html", context, login=login)


@router.get("/coverage", name="portal.regulator.coverage")
def coverage_page(request: Request, login: PortalRegulator, db: DbSession, settings: AppSettings) -> Response:
    """Registered and authorised enterprises and banks connected, against the targets."""
    return _table_page(request, login, db, settings, "coverage")


@router.get("/timeliness", name="portal.regulator.timeliness")
def timeliness_page(request: Request, login: PortalRegulator, db: DbSession, settings: AppSettings) -> Response:
    """Each bank's loan-report lag, on-time rate, follow-up and resolution (回传)."""
    return _table_page(request, login, db, settings, "timeliness")


@router.get("/quality", name="portal.regulator.quality")
def quality_page(request: Request, login: PortalRegulator, db: DbSession, settings: AppSettings) -> Response:
    """Data quality per source and providing department, from the last ingest."""
    return _table_page(request, login, db, settings, "quality")


@router.get("/declines", name="portal.regulator.declines")
def declines_page(request: Request, login: PortalRegulator, db: DbSession, settings: AppSettings) -> Response:
    """Policy declines (联合惩戒) by rule."""
    return _table_page(request, login, db, settings, "declines")


@router.get("/lending", name="portal.regulator.lending")
def lending_page(
    request: Request,
    login: PortalRegulator,
    db: DbSession,
    by: Annotated[Dimension, Query()] = "platform",
    group: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """信用贷款规模 by month as bars with its year-on-year growth as a line, for the whole platform or one bank,
    region, industry or size class."""
    frame = metrics.credit_lending(db, by=by, period="month")
    groups = sorted(frame["group"].unique().tolist()) if len(frame) else []
    chosen = group if group in groups else (groups[0] if groups else None)
    shown = frame[frame["group"] == chosen] if chosen is not None else frame
    lang = language_of(request)
    chart = bar_line_chart(
        shown["period"].tolist(), shown["disbursed_amount"].tolist(), shown["disbursed_yoy"].tolist(),
        title=f"{text('reg.lending.title', lang)}: {chosen or ''}", bar_name=text("reg.lending.chart_volume", lang),
        line_name=text("reg.lending.chart_yoy", lang),
    )
    balance = bar_line_chart(
        shown["period"].tolist(), shown["balance"].tolist(), shown["balance_yoy"].tolist(),
        title=text("reg.lending.chart_balance", lang), bar_name=text("reg.lending.chart_balance", lang),
        line_name=text("reg.lending.chart_yoy", lang),
    )
    context = {"charts": [chart, balance], "columns": list(frame.columns), "rows": _rows(shown), "by": by,
               "group": chosen, "groups": groups, "dimensions": metrics.DIMENSIONS,
               "csv_url": request.url_for("portal.regulator.lending_csv").include_query_params(by=by)}
    return render(request, "regulator/lending.html", context, login=login)


MONITORING_TABLES = ("drift", "grades", "alerts")


def _monitoring(request: Request, login: PortalLogin, db: Session, settings: Settings) -> MonitoringReport:
    """The loaded champion's monitoring report, as the regulator API computes it (baseline cached per version)."""
    return champion_monitoring(request, login.account, db, settings)


def _monitoring_frame(report: MonitoringReport, table: str) -> pd.DataFrame:
    return {"drift": report.drift, "grades": report.grades, "alerts": alerts_table(report.alerts)}[table]


@router.get("/monitoring", name="portal.regulator.monitoring")
def monitoring_page(request: Request, login: PortalRegulator, db: DbSession, settings: AppSettings) -> Response:
    """Score drift (PSI by month with the 0.1 / 0.25 bands), realised default rate by grade, and the alerts."""
    lang = language_of(request)
    try:
        report = _monitoring(request, login, db, settings)
    except ApiError as exc:
        return render(request, "regulator/monitoring.html", {"unavailable": exc.detail}, login=login)
    grades = report.grades[report.grades["grade"] != "all"]
    charts = []
    if len(report.drift):
        charts.append(line_chart(report.drift["month"].tolist(), report.drift["psi"].tolist(),
                                 title=text("reg.monitoring.psi_chart", lang), name="PSI", bands=PSI_BANDS))
    if len(grades):
        charts.append(bar_line_chart(
            grades["grade"].tolist(), grades["realised_default_rate"].tolist(), grades["mean_pd"].tolist(),
            title=text("reg.monitoring.default_chart", lang), bar_name=text("reg.monitoring.realised", lang),
            line_name=text("reg.monitoring.mean_pd", lang), bars_percent=True,
        ))
    tables = [(name, list(frame.columns), _rows(frame),
               request.url_for("portal.regulator.monitoring_csv", table=name))
              for name in MONITORING_TABLES for frame in [_monitoring_frame(report, name)]]
    scores_by_month = dict(zip(report.drift["month"].astype(str), report.drift["scores"].astype(int), strict=True))
    context = {"unavailable": None, "report": report, "charts": charts, "tables": tables,
               "scores_by_month": scores_by_month}
    return render(request, "regulator/monitoring.html", context, login=login)


@router.get("/monitoring/{table}.csv", name="portal.regulator.monitoring_csv")
def monitoring_csv(request: Request, table: str, login: PortalRegulator, db: DbSession,
                   settings: AppSettings) -> Response:
    """One monitoring table (drift, grades or alerts) of the champion as CSV."""
    if table not in MONITORING_TABLES:
        return Response("unknown table", status_code=404, media_type="text/plain")
    report = _monitoring(request, login, db, settings)
    return _csv(_monitoring_frame(report, table), f"monitoring_{table}_v{report.model_version}.csv")


def _csv(frame: pd.DataFrame, filename: str) -> Response:
    return Response(frame.to_csv(index=False), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/lending.csv", name="portal.regulator.lending_csv")
def lending_csv(login: PortalRegulator, db: DbSession, by: Annotated[Dimension, Query()] = "platform") -> Response:
    """The credit-lending table by month for every group of one dimension, as CSV."""
    return _csv(metrics.credit_lending(db, by=by, period="month"), f"credit_lending_{by}.csv")


@router.get("/{table}.csv", name="portal.regulator.csv")
def table_csv(table: str, login: PortalRegulator, db: DbSession, settings: AppSettings) -> Response:
    """One regulator table as CSV (UTF-8, a header row, one line per table row)."""
    found = TABLES.get(table)
    if found is None:
        return Response("unknown table", status_code=404, media_type="text/plain")
    return _csv(found.compute(db, settings), f"{table}.csv")
