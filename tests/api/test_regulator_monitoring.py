"""Monitoring endpoints: the champion's stored scores against its baseline, grades against reported defaults.

Fixture, as of 2026-03-31, model version 3 with a baseline of half the training scores below log-odds 0:

    month    scores (PD)                                 below 0   PSI by hand
    2025-01  E1 0.2 (B), E2 0.6 (D), E3 0.1 (A)          2 of 3    (1/6)·ln 2 = 0.116  watch
    2025-06  E4 0.4 (C)                                  1 of 1    0.5·ln 2 + (1e-4 − 0.5)·ln(2e-4)  act
    2026-01  0.3, 0.3, 0.7, 0.7                          2 of 4    0  stable
    2026-02  0.3, 0.3, 0.3, 0.7                          3 of 4    0.25·ln 3 = 0.275  act

E1 and E2 borrowed within 180 days of their January 2025 scores; E2 went 95 days past due in June 2025. E3 did
not borrow; E4 borrowed but its 12-month horizon ends after the as-of date. So two matured scores: B (no
default) and D (default), AUC 1. A score by model version 2 is left out.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.app import create_app
from api.db.models import Enterprise, ScoreResponse
from config.settings import Settings
from models.artifact import PdModelArtifact
from models.monitoring import ScoreBaseline, with_baseline
from scoring.service import ScoreService
from tests.api.factories import add_account, add_authorisation, add_bank, add_enterprise, add_key, bearer
from tests.api.test_regulator_metrics import _credit, _loan

AS_OF = date(2026, 3, 31)
HALVES = ScoreBaseline(edges=(0.0,), shares=(0.5, 0.5), rows=100, source="test baseline")


@pytest.fixture
def champion_client(settings: Settings, engine: Engine, artifact: PdModelArtifact) -> Iterator[TestClient]:
    """The app serving model version 3 (the small test model carrying the HALVES baseline); a month of a single
    score may alert, so the tiny fixture shows the bands."""
    service = ScoreService(with_baseline(artifact, HALVES), "pre_credit_pd", "3")
    alerting = settings.model_copy(update={"monitoring_min_scores": 1})
    with TestClient(create_app(alerting, score_provider=service)) as client:
        yield client


def _score(db: Session, enterprise: Enterprise, bank_id: int, when: datetime, pd_: float, grade: str,
           version: str = "3") -> None:
    db.add(ScoreResponse(id=uuid.uuid4(), uscc=enterprise.uscc, bank_id=bank_id, requested_at=when,
                         probability_of_default=pd_, score=600, grade=grade, reasons={}, model_name="pre_credit_pd",
                         model_version=version, profile_as_of=when.date()))
    db.commit()


@pytest.fixture
def monitored(db: Session, settings: Settings) -> str:
    """The fixture above; returns a regulator key."""
    e1, e2, e3, e4, other = (add_enterprise(db) for _ in range(5))
    bank = add_bank(db)
    reporter = add_account(db, "bank", bank=bank)
    grant = add_authorisation(db, e1.uscc, bank).id
    jan25 = datetime(2025, 1, 10, 3, tzinfo=UTC)
    _score(db, e1, bank.id, jan25, 0.2, "B")
    _score(db, e2, bank.id, jan25, 0.6, "D")
    _score(db, e3, bank.id, jan25, 0.1, "A")
    _score(db, e4, bank.id, datetime(2025, 6, 2, 3, tzinfo=UTC), 0.4, "C")
    _score(db, other, bank.id, jan25, 0.9, "E", version="2")
    for pd_ in (0.3, 0.3, 0.7, 0.7):
        _score(db, other, bank.id, datetime(2026, 1, 15, 3, tzinfo=UTC), pd_, "C")
    for pd_ in (0.3, 0.3, 0.3, 0.7):
        _score(db, other, bank.id, datetime(2026, 2, 3, 3, tzinfo=UTC), pd_, "C")
    d = date
    _loan(db, bank, e1, "M1", reporter.id, grant, [
        ("approval", d(2025, 2, 1), 1, {}), ("disbursement", d(2025, 2, 3), 1, _credit(100, 12))])
    _loan(db, bank, e2, "M2", reporter.id, grant, [
        ("approval", d(2025, 3, 1), 1, {}), ("disbursement", d(2025, 3, 3), 1, _credit(100, 12)),
        ("overdue", d(2025, 6, 30), 2, {"amount": 10, "days_past_due": 95})])
    _loan(db, bank, e4, "M4", reporter.id, grant, [
        ("approval", d(2025, 6, 5), 1, {}), ("disbursement", d(2025, 6, 6), 1, _credit(100, 12))])
    return add_key(db, add_account(db, "regulator"), settings)


def test_drift_by_month_against_the_baseline(champion_client: TestClient, monitored: str) -> None:
    response = champion_client.get("/v1/regulator/monitoring/drift", params={"as_of": AS_OF.isoformat()},
                                   headers=bearer(monitored))
    assert response.status_code == 200
    body = response.json()
    assert (body["model_version"], body["baseline_source"]) == ("3", "test baseline")
    rows = {row["month"]: row for row in body["rows"]}
    assert list(rows) == ["2025-01", "2025-06", "2026-01", "2026-02"]
    assert rows["2025-01"]["psi"] == pytest.approx(math.log(2) / 6)
    assert rows["2025-06"]["psi"] == pytest.approx(0.5 * math.log(2) + (1e-4 - 0.5) * math.log(2e-4))
    assert rows["2026-01"]["psi"] == pytest.approx(0.0)
    assert rows["2026-02"]["psi"] == pytest.approx(0.25 * math.log(3))
    assert [rows[m]["band"] for m in rows] == ["watch", "act", "stable", "act"]
    assert rows["2025-01"]["scores"] == 3  # version 2's score is not the champion's


def test_grades_on_matured_loans(champion_client: TestClient, monitored: str) -> None:
    rows = champion_client.get("/v1/regulator/monitoring/grades", params={"as_of": AS_OF.isoformat()},
                               headers=bearer(monitored)).json()["rows"]
    by_grade = {row["grade"]: row for row in rows}
    assert set(by_grade) == {"B", "D", "all"}  # E3 never borrowed; E4's horizon has not ended
    assert (by_grade["B"]["scores"], by_grade["B"]["defaults"]) == (1, 0)
    assert (by_grade["D"]["scores"], by_grade["D"]["defaults"]) == (1, 1)
    assert by_grade["all"]["realised_default_rate"] == 0.5
    assert by_grade["all"]["auc"] == 1.0
    assert by_grade["B"]["auc"] is None


def test_alerts_name_the_months_over_the_bands(champion_client: TestClient, monitored: str) -> None:
    response = champion_client.get("/v1/regulator/monitoring/alerts",
                                   params={"as_of": AS_OF.isoformat(), "format": "csv"}, headers=bearer(monitored))
    assert response.status_code == 200
    assert 'filename="monitoring-alerts-v3-2026-03-31.csv"' in response.headers["content-disposition"]
    lines = response.text.strip().splitlines()
    assert lines[0] == "kind,subject,value,threshold,severity,message"
    assert [line.split(",")[1] + "/" + line.split(",")[4] for line in lines[1:]] == [
        "2025-01/watch", "2025-06/act", "2026-02/act"]


def test_without_a_loaded_model_monitoring_is_unavailable(client: TestClient, db: Session, settings: Settings) -> None:
    key = add_key(db, add_account(db, "analyst"), settings)
    response = client.get("/v1/regulator/monitoring/drift", headers=bearer(key))
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
