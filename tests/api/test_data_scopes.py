"""Data scopes over HTTP with the real model: a source the grant leaves out feeds nothing the bank receives."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.app import create_app
from config.settings import Settings
from models.artifact import PdModelArtifact
from scoring.scopes import DATA_SCOPES, withheld_features
from scoring.service import ScoreService
from scoring.types import PolicyRecord
from tests.api.factories import (
    Scenario,
    add_account,
    add_authorisation,
    add_enterprise,
    add_key,
    add_profile,
    bearer,
    policy_facts,
)
from tests.utils.training_frames import make_training_frame

AS_OF = date(2026, 3, 31)
GRADE_D = PolicyRecord("tax_credit_grade", "D", date(2025, 4, 20), None, "2024")
NO_TAX = ["score", "social_insurance", "housing_fund", "utilities"]


@pytest.fixture
def app(settings: Settings, engine: object, artifact: PdModelArtifact) -> FastAPI:
    """The app serving the session's small real model, so withheld features really reach LightGBM."""
    return create_app(settings, score_provider=ScoreService(artifact, "pre_credit_pd", "7"))


@pytest.fixture(scope="module")
def rows() -> list[dict[str, float | None]]:
    frame = make_training_frame(n_enterprises=60, n_dates=1, seed=5)
    names = [c for c in frame.columns if c not in ("uscc", "as_of", "default_12m")]
    out = [{n: (None if pd.isna(r[n]) else float(r[n])) for n in names} for _, r in frame.iterrows()]
    return [{**row, "age_months": max(row.get("age_months") or 0.0, 36.0)} for row in out]


def _score(client: TestClient, key: str, uscc: str) -> dict[str, Any]:
    response = client.post("/v1/scores", json={"uscc": uscc, "requested_amount": 500_000}, headers=bearer(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _what_the_bank_gets(body: dict[str, Any]) -> tuple:
    return (body["probability_of_default"], body["score"], body["grade"], body["reasons"], body["decision"],
            body["pre_credit_limit"], body["policy_hits"], body["insufficient_data"], body["withheld_scopes"])


def test_a_new_grant_covers_every_source_unless_told(client: TestClient, scenario: Scenario) -> None:
    receipt = client.post("/v1/enterprise/authorisations", json={"bank_code": scenario.bank_b.code},
                          headers=bearer(scenario.enterprise_key)).json()
    assert receipt["scopes"] == sorted(["score", *DATA_SCOPES])


def test_without_tax_no_tax_record_feeds_the_answer(
    client: TestClient, scenario: Scenario, db: Session, rows: list[dict[str, float | None]]
) -> None:
    tax = withheld_features(["tax"])
    first, second = add_enterprise(db), add_enterprise(db)
    other = rows[1]
    add_profile(db, first.uscc, AS_OF, rows[0], policy_facts(GRADE_D, sales_12m=9e7, tax_paid_12m=4e6))
    add_profile(db, second.uscc, AS_OF, {n: (other[n] if n in tax else v) for n, v in rows[0].items()},
                policy_facts(sales_12m=2e5, tax_paid_12m=1e3))
    for enterprise in (first, second):
        add_authorisation(db, enterprise.uscc, scenario.bank_b, scopes=NO_TAX)
    add_authorisation(db, first.uscc, scenario.bank_a)

    seen_a = _score(client, scenario.bank_a_key, first.uscc)
    seen_b = [_score(client, scenario.bank_b_key, e.uscc) for e in (first, second)]

    assert _what_the_bank_gets(seen_b[0]) == _what_the_bank_gets(seen_b[1])  # the tax records differ; nothing else
    assert seen_b[0]["withheld_scopes"] == ["tax"] and seen_a["withheld_scopes"] == []
    assert [h["rule_id"] for h in seen_a["policy_hits"]] == ["tax_credit_grade_d"] and seen_b[0]["policy_hits"] == []
    assert seen_b[0]["pre_credit_limit"]["sales_12m"] == 0.0 and seen_a["pre_credit_limit"]["sales_12m"] == 9e7
    cited = {r["feature"] for body in seen_b for side in ("lowering", "raising") for r in body["reasons"][side]}
    assert cited and not (cited & tax)
    again = client.get(f"/v1/scores/{seen_b[0]['id']}", headers=bearer(scenario.bank_b_key)).json()
    assert again["withheld_scopes"] == ["tax"]


def test_narrowing_the_scopes_withholds_from_the_next_request(
    client: TestClient, scenario: Scenario, db: Session, settings: Settings, rows: list[dict[str, float | None]]
) -> None:
    enterprise = add_enterprise(db)
    add_profile(db, enterprise.uscc, AS_OF, rows[2])
    grant = add_authorisation(db, enterprise.uscc, scenario.bank_b)
    before = _score(client, scenario.bank_b_key, enterprise.uscc)
    owner = add_key(db, add_account(db, "enterprise", uscc=enterprise.uscc), settings)
    changed = client.patch(f"/v1/enterprise/authorisations/{grant.id}",
                           json={"scopes": ["score", "social_insurance"]}, headers=bearer(owner))
    after = _score(client, scenario.bank_b_key, enterprise.uscc)
    batch = client.post("/v1/scores/batch", json={"usccs": [enterprise.uscc]}, headers=bearer(scenario.bank_b_key))

    assert changed.status_code == 200
    assert before["withheld_scopes"] == []
    assert after["withheld_scopes"] == ["housing_fund", "tax", "utilities"]
    assert batch.json()["results"][0]["score"]["withheld_scopes"] == ["housing_fund", "tax", "utilities"]


def test_without_tax_and_social_insurance_the_enterprise_is_unscorable_and_told_why(
    client: TestClient, scenario: Scenario, db: Session, rows: list[dict[str, float | None]]
) -> None:
    enterprise = add_enterprise(db)
    add_profile(db, enterprise.uscc, AS_OF, rows[3])
    add_authorisation(db, enterprise.uscc, scenario.bank_b, scopes=["score", "utilities"])

    body = _score(client, scenario.bank_b_key, enterprise.uscc)

    assert body["probability_of_default"] is None and body["decision"] == "refer"
    assert [m["code"] for m in body["insufficient_data"]] == ["tax_and_social_insurance"]
    assert body["withheld_scopes"] == ["housing_fund", "social_insurance", "tax"]
