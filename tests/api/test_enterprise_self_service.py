"""企业自助: own profile in words, own score and advice, access log, decisions and review requests; never another's."""

from __future__ import annotations

import math
import uuid
from dataclasses import asdict
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.app import create_app
from api.db.models import AuditEvent, ReviewRequest, ScoreResponse
from config.settings import Settings
from features.catalogue import FEATURE_SPECS
from models.artifact import PdModelArtifact
from scoring.advice import AdviceSearch
from scoring.service import ScoreService
from tests.api.factories import (
    Scenario,
    add_account,
    add_enterprise,
    add_key,
    add_profile,
    bearer,
)
from tests.utils.training_frames import make_training_frame

ENDPOINTS = ("/v1/enterprise/profile", "/v1/enterprise/score", "/v1/enterprise/access-log",
             "/v1/enterprise/decisions", "/v1/enterprise/reviews")


@pytest.fixture
def other_key(db: Session, settings: Settings) -> str:
    """Enterprise B, with a profile of its own."""
    other = add_enterprise(db)
    add_profile(db, other.uscc, date(2025, 12, 31), {"age_months": 7.0})
    return add_key(db, add_account(db, "enterprise", uscc=other.uscc), settings)


def test_the_profile_is_shown_in_words(client: TestClient, scenario: Scenario) -> None:
    response = client.get("/v1/enterprise/profile", headers=bearer(scenario.enterprise_key))

    assert response.status_code == 200
    body = response.json()
    assert body["uscc"] == scenario.uscc
    assert body["as_of"] == scenario.profile_as_of.isoformat()
    assert body["disputed_records"] == []
    by_name = {f["name"]: f for f in body["features"]}
    spec = FEATURE_SPECS["age_months"]
    assert by_name["age_months"] == {
        "name": "age_months", "source": "registration", "label_zh": spec.label_zh, "label_en": spec.label_en,
        "value": 48.0, "text_zh": "成立48个月", "text_en": "founded 48 months ago", "disputed": False,
    }
    assert by_name["penalties_24m"]["text_en"] == "penalties_24m: 无数据 / no data"  # not in the catalogue: shown
    assert set(by_name) == {"age_months", "tax_paid_12m", "si_arrears_months", "penalties_24m"}


def test_each_enterprise_sees_only_its_own_data(client: TestClient, scenario: Scenario, other_key: str) -> None:
    client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key))

    theirs = {path: client.get(path, headers=bearer(other_key)).json() for path in ENDPOINTS}

    assert theirs["/v1/enterprise/profile"]["as_of"] == "2025-12-31"
    assert theirs["/v1/enterprise/profile"]["uscc"] != scenario.uscc
    assert theirs["/v1/enterprise/score"]["uscc"] != scenario.uscc
    assert theirs["/v1/enterprise/access-log"]["items"] == []
    assert theirs["/v1/enterprise/decisions"] == []
    assert theirs["/v1/enterprise/reviews"] == []


@pytest.mark.parametrize("path", ENDPOINTS)
def test_other_roles_are_refused(client: TestClient, scenario: Scenario, db: Session, settings: Settings,
                                 path: str) -> None:
    operator_key = add_key(db, add_account(db, "operator"), settings)
    regulator_key = add_key(db, add_account(db, "regulator"), settings)

    statuses = [client.get(path, headers=bearer(k)).status_code for k in (scenario.bank_a_key, operator_key,
                                                                          regulator_key)]

    assert statuses == [403, 403, 403]
    assert client.get(path).status_code == 401


def test_no_profile_is_404(client: TestClient, db: Session, settings: Settings) -> None:
    lonely = add_enterprise(db)
    key = add_key(db, add_account(db, "enterprise", uscc=lonely.uscc), settings)

    for path in ("/v1/enterprise/profile", "/v1/enterprise/score"):
        response = client.get(path, headers=bearer(key))
        assert response.status_code == 404
        assert response.json()["type"].endswith("/no-profile")


def test_own_score_matches_what_a_bank_gets_and_is_audited_as_such(
    client: TestClient, scenario: Scenario, db: Session
) -> None:
    own = client.get("/v1/enterprise/score", headers=bearer(scenario.enterprise_key)).json()
    bank = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key)).json()

    for field in ("probability_of_default", "score", "grade", "reasons", "model", "profile_as_of", "decision",
                  "policy_hits", "insufficient_data"):
        assert own[field] == bank[field], field
    assert own["advice"] is None  # the fake scorer cannot re-score candidate profiles
    assert db.scalar(select(func.count()).select_from(ScoreResponse)) == 1  # only the bank's is stored
    row = db.scalars(select(AuditEvent).where(AuditEvent.action == "enterprise.score")).one()
    assert (row.actor_role, row.uscc, row.outcome, row.detail) == (
        "enterprise", scenario.uscc, "allowed", "own score viewed by the enterprise")


def test_own_score_comes_with_advice_from_the_real_model(
    settings: Settings, scenario: Scenario, db: Session, artifact: PdModelArtifact
) -> None:
    service = ScoreService(artifact, "pre_credit_pd", "3")
    frame = make_training_frame(n_enterprises=50, n_dates=1, seed=3)
    risky = frame.sort_values("si_arrears_months_12m").iloc[-1]
    features = {n: None if math.isnan(float(risky[n])) else float(risky[n]) for n in service.feature_names}
    add_profile(db, scenario.uscc, date(2026, 6, 30), features)
    expected = AdviceSearch(service).advise(features)

    with TestClient(create_app(settings, score_provider=service)) as client:
        body = client.get("/v1/enterprise/score", headers=bearer(scenario.enterprise_key)).json()

    assert body["score"] == expected.score
    assert body["advice"]["target_grade"] == expected.target_grade
    assert body["advice"]["lifts_grade"] == expected.lifts_grade
    assert body["advice"]["steps"] == [asdict(step) for step in expected.steps]
    assert body["advice"]["steps"], "a profile with the most arrears has something to improve"


def test_the_access_log_names_bank_action_grant_and_outcome(
    client: TestClient, scenario: Scenario, db: Session
) -> None:
    client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key))
    client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_b_key))
    client.get("/v1/enterprise/profile", headers=bearer(scenario.enterprise_key))  # its own reads are not listed

    page = client.get("/v1/enterprise/access-log", headers=bearer(scenario.enterprise_key)).json()

    assert page["total"] == 2 and page["next_offset"] is None
    denied, allowed = page["items"]
    assert (allowed["bank_code"], allowed["action"], allowed["outcome"], allowed["authorisation_id"]) == (
        scenario.bank_a.code, "score.create", "allowed", scenario.grant.id)
    assert allowed["action_text"].endswith("requested a pre-credit score")
    assert (denied["bank_code"], denied["outcome"], denied["http_status"], denied["authorisation_id"]) == (
        scenario.bank_b.code, "denied", 403, None)
    stored = db.scalars(select(AuditEvent).where(AuditEvent.action == "score.create").order_by(AuditEvent.id)).all()
    assert [allowed["request_id"], denied["request_id"]] == [r.request_id for r in stored]


def test_the_access_log_is_paginated(client: TestClient, scenario: Scenario) -> None:
    for _ in range(3):
        client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key))
    log = "/v1/enterprise/access-log"

    first = client.get(log, params={"limit": 2}, headers=bearer(scenario.enterprise_key)).json()
    rest = client.get(log, params={"limit": 2, "offset": 2}, headers=bearer(scenario.enterprise_key)).json()
    bad = client.get(log, params={"limit": 0}, headers=bearer(scenario.enterprise_key))

    assert (len(first["items"]), first["next_offset"], first["total"]) == (2, 2, 3)
    assert (len(rest["items"]), rest["next_offset"]) == (1, None)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "limit"


def test_a_decision_can_be_put_to_human_review(
    client: TestClient, scenario: Scenario, db: Session, settings: Settings, other_key: str
) -> None:
    client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key))
    decisions = client.get("/v1/enterprise/decisions", headers=bearer(scenario.enterprise_key)).json()
    score_id = decisions[0]["score_id"]
    body = {"score_request_id": score_id, "reason": "评分未反映已结清的社保欠费"}

    created = client.post("/v1/enterprise/reviews", json=body, headers=bearer(scenario.enterprise_key))
    again = client.post("/v1/enterprise/reviews", json=body, headers=bearer(scenario.enterprise_key))
    by_other = client.post("/v1/enterprise/reviews", json=body, headers=bearer(other_key))
    unknown = client.post("/v1/enterprise/reviews", json={**body, "score_request_id": str(uuid.uuid4())},
                          headers=bearer(scenario.enterprise_key))
    by_bank = client.post("/v1/enterprise/reviews", json=body, headers=bearer(scenario.bank_a_key))

    assert decisions[0]["bank_code"] == scenario.bank_a.code
    assert created.status_code == 201
    receipt = created.json()
    assert (receipt["score_request_id"], receipt["status"], receipt["uscc"]) == (score_id, "submitted", scenario.uscc)
    assert receipt["submitted_at"]
    assert again.status_code == 409
    assert by_other.status_code == 422 and by_other.json()["errors"][0]["field"] == "score_request_id"
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["rule"] == "review.unknown_score"
    assert by_bank.status_code == 403
    assert db.scalar(select(func.count()).select_from(ReviewRequest)) == 1
    assert client.get("/v1/enterprise/reviews", headers=bearer(scenario.enterprise_key)).json() == [receipt]
    assert client.get("/v1/enterprise/reviews", headers=bearer(other_key)).json() == []


def test_operators_list_review_requests_and_others_cannot(
    client: TestClient, scenario: Scenario, db: Session, settings: Settings
) -> None:
    operator_key = add_key(db, add_account(db, "operator"), settings)
    score_id = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key)).json()["id"]
    receipt = client.post("/v1/enterprise/reviews", json={"score_request_id": score_id, "reason": "请人工复核"},
                          headers=bearer(scenario.enterprise_key)).json()

    listed = client.get("/v1/reviews", headers=bearer(operator_key))
    refused = [client.get("/v1/reviews", headers=bearer(k)).status_code
               for k in (scenario.enterprise_key, scenario.bank_a_key)]

    assert listed.status_code == 200 and listed.json() == [receipt]
    assert refused == [403, 403]

