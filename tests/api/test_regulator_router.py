"""The regulator endpoints: who may read them, JSON and CSV of the same rows, problem+json refusals, audit rows."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import AuditEvent
from api.regulator_metrics import quality_report_path
from config.settings import Settings
from tests.api.factories import add_account, add_bank, add_key, bearer
from tests.api.test_regulator_metrics import AS_OF, Book, book  # noqa: F401 - the shared loan-book fixture

ENDPOINTS = ("coverage", "credit-lending", "loan-reports", "policy-declines")


@pytest.fixture
def regulator_key(db: Session, settings: Settings) -> str:
    """A regulator's key."""
    return add_key(db, add_account(db, "regulator"), settings)


def test_regulator_reads_credit_growth_as_computed_by_hand(
    client: TestClient, book: Book, regulator_key: str  # noqa: F811
) -> None:
    response = client.get("/v1/regulator/credit-lending", params={"as_of": AS_OF.isoformat(), "by": "bank"},
                          headers=bearer(regulator_key))
    assert response.status_code == 200
    body = response.json()
    assert body["as_of"] == AS_OF.isoformat()
    march = {row["group"]: row for row in body["rows"] if row["period"] == "2026-03"}
    assert march["A"]["balance"] == 350  # L2 200 (defaulted) + L5 150
    assert march["B"]["balance"] == 250  # L4 300 − 50 repaid
    assert march["A"]["balance_yoy"] == pytest.approx(350 / 270 - 1)  # A held L1 70 + L2 200 in March 2025
    assert march["B"]["balance_yoy"] is None  # B had no credit balance a year before


def test_csv_has_the_same_rows(client: TestClient, book: Book, regulator_key: str) -> None:  # noqa: F811
    params = {"as_of": AS_OF.isoformat(), "period": "year"}
    as_json = client.get("/v1/regulator/credit-lending", params=params, headers=bearer(regulator_key)).json()
    response = client.get("/v1/regulator/credit-lending", params={**params, "format": "csv"},
                          headers=bearer(regulator_key))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="credit-lending-platform-year-2026-03-31.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["period"] for r in rows] == [r["period"] for r in as_json["rows"]] == ["2025", "2026"]
    assert [float(r["disbursed_amount"]) for r in rows] == [300.0, 450.0]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_analyst_may_read_and_bank_may_not(
    client: TestClient, db: Session, settings: Settings, endpoint: str
) -> None:
    analyst = add_key(db, add_account(db, "analyst"), settings)
    bank = add_key(db, add_account(db, "bank", bank=add_bank(db)), settings)
    assert client.get(f"/v1/regulator/{endpoint}", headers=bearer(analyst)).status_code == 200
    refused = client.get(f"/v1/regulator/{endpoint}", headers=bearer(bank))
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert client.get(f"/v1/regulator/{endpoint}").status_code == 401


def test_bad_parameters_are_named(client: TestClient, regulator_key: str) -> None:
    response = client.get("/v1/regulator/credit-lending", params={"by": "province", "as_of": "2026-13-01"},
                          headers=bearer(regulator_key))
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"by", "as_of"} <= fields
    far = client.get("/v1/regulator/policy-declines", params={"since": "0001-01-01", "until": "9999-12-31"},
                     headers=bearer(regulator_key))
    assert far.status_code == 422
    assert {error["field"] for error in far.json()["errors"]} == {"since", "until"}


def test_data_quality_reads_the_region_report(
    client: TestClient, settings: Settings, regulator_key: str, tmp_path: Path
) -> None:
    local = settings.model_copy(update={"data_dir": tmp_path})
    client.app.state.settings = local  # type: ignore[attr-defined]
    missing = client.get("/v1/regulator/data-quality", headers=bearer(regulator_key))
    assert missing.status_code == 404
    assert missing.json()["title"] == "Figures not available yet"
    path = quality_report_path(local)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"sources": [{"source": "judicial", "read": 10, "accepted": 9, "quarantined": 1,
                                             "qualified_rate": 0.9, "departments": []}]}), encoding="utf-8")
    rows = client.get("/v1/regulator/data-quality", headers=bearer(regulator_key)).json()["rows"]
    assert rows == [{"source": "judicial", "department": "all", "read": 10, "accepted": 9, "quarantined": 1,
                     "qualified_rate": 0.9, "uscc_wrong_rate": None, "uscc_wrong_meets_target": None,
                     "duplicate_rate": None, "duplicate_meets_target": None}]


def test_each_read_is_audited(client: TestClient, db: Session, regulator_key: str) -> None:
    client.get("/v1/regulator/coverage", headers=bearer(regulator_key))
    actions = db.scalars(select(AuditEvent.action).where(AuditEvent.actor_role == "regulator")).all()
    assert actions == ["regulator.coverage"]
