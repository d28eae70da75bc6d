"""End to end: the demo pipeline on a small region, then the API asked for scores with the real model."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.app import create_app
from api.db import make_engine
from api.db.models import AuditEvent, Bank
from api.demo_loans import demo_loans_stored
from api.pipeline import DemoPipeline, StageResult, application_dates
from api.regulator_metrics import credit_lending
from config.settings import Settings
from features.buckets import BucketedTable
from models.registry import load_model_by_alias
from scoring.service import ScoreService
from tests.api.factories import add_authorisation

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, demo_enterprises=800, seed=11)


def test_application_dates_are_quarter_ends_with_history_and_outcome() -> None:
    dates = application_dates(pd.Timestamp("2022-06-01"), pd.Timestamp("2026-06-30"))
    assert [str(d.date()) for d in (dates[0], dates[-1])] == ["2023-06-30", "2025-06-30"]
    assert all(d.month % 3 == 0 for d in dates)


def test_demo_pipeline_builds_reuses_and_serves_scores(settings: Settings) -> None:
    seen: list[StageResult] = []
    outcome = DemoPipeline(settings, report=seen.append).run()

    assert [s.name for s in seen] == ["generate region", "ingest", "profiles", "train and register",
                                      "policy facts", "service database", "loan reports"]
    assert not any(s.reused for s in seen)
    engine = make_engine(settings.resolved_database_url)
    with Session(engine) as session:  # the demo banks lent over 30 months: the regulator sees 年增速
        lending = credit_lending(session, period="year", as_of=date(2026, 10, 31)).set_index("period")
    engine.dispose()
    assert lending.loc["2026", "disbursed_amount"] > 0 and pd.notna(lending.loc["2026", "balance_yoy"])
    assert outcome.model_version == "1"
    assert outcome.metrics["auc_oot"] > 0.6
    # label maturity: every development outcome is observed before the out-of-time window opens
    artifact, _ = load_model_by_alias(settings.resolved_mlflow_uri, settings.model_name)
    train_end, oot_start = (pd.Timestamp(artifact.metadata[key]) for key in ("train_end", "oot_start"))
    assert train_end + pd.DateOffset(months=settings.default_horizon_months) < oot_start
    applications = pd.read_parquet(settings.region_dir() / "profiles" / "applications.parquet")
    assert applications.loc[applications["as_of"] <= train_end, "as_of"].nunique() >= 4

    again: list[StageResult] = []
    second = DemoPipeline(settings, report=again.append).run()
    assert [s.reused for s in again][:5] == [True, True, True, True, True]
    assert second.model_version == "1"
    assert {a.key for a in second.accounts.accounts} == {a.key for a in outcome.accounts.accounts}

    provider = ScoreService.from_registry(settings)
    app = create_app(settings, provider)
    bank = outcome.accounts.by_label("bank_a")
    granted, other = outcome.accounts.by_label("enterprise_1"), outcome.accounts.by_label("enterprise_2")
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {bank.key}"}
        ok = client.post("/v1/scores", json={"uscc": granted.uscc}, headers=headers)
        denied = client.post("/v1/scores", json={"uscc": other.uscc}, headers=headers)
        anonymous = client.post("/v1/scores", json={"uscc": granted.uscc})
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert 0.0 < body["probability_of_default"] < 1.0
    assert 300 <= body["score"] <= 900
    assert body["grade"] in {"A", "B", "C", "D", "E"}
    assert body["model"] == {"name": settings.model_name, "version": "1"}
    assert body["profile_as_of"] == "2026-10-31"
    assert body["reasons"]["lowering"] or body["reasons"]["raising"]
    assert body["decision"] in {"approve", "refer", "decline"} and body["rule_set_version"] == "policy-v1"
    assert body["pre_credit_limit"]["amount"] >= 0
    assert denied.status_code == 403
    assert denied.headers["content-type"].startswith("application/problem+json")
    assert anonymous.status_code == 401
    with app.state.sessionmaker() as session:
        audited = session.scalar(select(func.count()).select_from(AuditEvent))
    assert audited == 3

    # an enterprise of the region on the black list or a 失信被执行人 is declined, citing its record
    records = pd.read_parquet(settings.region_dir() / "policy" / "records.parquet")
    serving = set(pd.read_parquet(settings.region_dir() / "profiles" / "serving.parquet")["uscc"])
    restricted = records[records["kind"].isin(["black", "失信被执行人"]) & records["uscc"].isin(serving)]
    listed = restricted.iloc[0]
    with app.state.sessionmaker() as session:
        bank_a = session.scalars(select(Bank).where(Bank.code == "DEMO_BANK_A")).one()
        add_authorisation(session, listed["uscc"], bank_a)
    with TestClient(app) as client:
        declined = client.post("/v1/scores", json={"uscc": listed["uscc"]}, headers=headers).json()
    assert declined["decision"] == "decline"
    assert listed["record_key"] in {hit["record"]["record_key"] for hit in declined["policy_hits"]}


def test_rebuild_flag_rebuilds_every_stage(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", demo_enterprises=400, seed=5)  # embedded SQLite defaults
    DemoPipeline(settings).run()
    engine = make_engine(settings.resolved_database_url)
    loans_before = demo_loans_stored(engine)
    seen: list[StageResult] = []
    outcome = DemoPipeline(settings, rebuild=True, report=seen.append).run()
    assert not any(s.reused for s in seen)
    assert outcome.model_version == "2"
    # the banks' loan reports are stored once per database: kept, not sent again, and the summary says so
    assert loans_before > 0 and demo_loans_stored(engine) == loans_before
    engine.dispose()
    assert seen[-1].summary.startswith(f"{loans_before:,} demo loans reported to this database before, kept")


def test_ingest_buckets_follow_the_profile_partitions(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", demo_enterprises=400, seed=5, profile_partitions=4)
    DemoPipeline(settings).run()
    accepted = settings.region_dir() / "ingest" / "accepted" / "tax_monthly.parquet"
    layout = BucketedTable.of(accepted)
    assert layout is not None and layout.count == 4  # what a build in 4 partitions reads without a shuffle
    seen: list[StageResult] = []
    DemoPipeline(settings.model_copy(update={"profile_partitions": 2}), report=seen.append).run()
    reused = {s.name: s.reused for s in seen}
    assert reused["generate region"] and not reused["ingest"]  # a new count is a new layout: ingested again
    layout = BucketedTable.of(accepted)
    assert layout is not None and layout.count == 2
