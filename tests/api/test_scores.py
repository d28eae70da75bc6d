"""POST /v1/scores and GET /v1/scores/{id}: authorised banks only, the body as promised."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.app import create_app
from api.db.models import ScoreResponse, utcnow
from config.settings import Settings
from features.uscc import check_character
from tests.api.factories import (
    FakeScorer,
    Scenario,
    add_account,
    add_authorisation,
    add_enterprise,
    add_key,
    add_profile,
    bearer,
)


def score(client: TestClient, key: str, uscc: str) -> object:
    return client.post("/v1/scores", json={"uscc": uscc}, headers=bearer(key))


def test_authorised_bank_gets_a_score_with_every_field(client: TestClient, scenario: Scenario, db: Session) -> None:
    response = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key))

    assert response.status_code == 200
    body = response.json()
    expected = FakeScorer().score(scenario.uscc, {"tax_paid_12m": 120_000.0, "si_arrears_months": 2.0}, date.min)
    assert body["uscc"] == scenario.uscc
    assert body["probability_of_default"] == pytest.approx(expected.probability_of_default)
    assert body["score"] == expected.score
    assert body["grade"] == expected.grade
    assert body["model"] == {"name": "fake_pd", "version": "7"}
    assert body["profile_as_of"] == scenario.profile_as_of.isoformat()
    assert set(body["reasons"]) == {"lowering", "raising"}
    lowering = body["reasons"]["lowering"][0]
    assert set(lowering) == {"feature", "points", "value", "text_zh", "text_en"}
    assert lowering["feature"] == "si_arrears_months"
    assert lowering["value"] == 2.0
    assert body["reasons"]["raising"][0]["feature"] == "tax_paid_12m"
    assert body["requested_at"]
    stored = db.scalars(select(ScoreResponse)).one()
    assert str(stored.id) == body["id"]
    assert stored.bank_id == scenario.bank_a.id
    assert stored.score == body["score"]


def test_the_latest_profile_is_scored(client: TestClient, scenario: Scenario, db: Session, scorer: FakeScorer) -> None:
    later = scenario.profile_as_of + timedelta(days=30)
    add_profile(db, scenario.uscc, later, {"tax_paid_12m": 1.0, "si_arrears_months": 0.0})

    response = score(client, scenario.bank_a_key, scenario.uscc)

    assert response.json()["profile_as_of"] == later.isoformat()  # type: ignore[attr-defined]
    assert scorer.calls == [(scenario.uscc, later)]


def test_the_same_bank_reads_its_score_back_and_others_get_404(client: TestClient, scenario: Scenario) -> None:
    created = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key)).json()

    mine = client.get(f"/v1/scores/{created['id']}", headers=bearer(scenario.bank_a_key))
    theirs = client.get(f"/v1/scores/{created['id']}", headers=bearer(scenario.bank_b_key))

    assert mine.status_code == 200
    assert mine.json() == created
    assert theirs.status_code == 404
    assert theirs.headers["content-type"] == "application/problem+json"


def test_bank_without_authorisation_gets_403(client: TestClient, scenario: Scenario) -> None:
    response = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_b_key))

    assert response.status_code == 403
    assert response.json()["type"] == "https://xinyi.example/problems/not-authorised"


def test_revoked_authorisation_gets_403_at_once(client: TestClient, scenario: Scenario) -> None:
    first = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key))
    revoked = client.delete(
        f"/v1/enterprise/authorisations/{scenario.grant.id}", headers=bearer(scenario.enterprise_key)
    )
    second = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key))

    assert (first.status_code, revoked.status_code, second.status_code) == (200, 200, 403)


def test_expired_authorisation_gets_403(client: TestClient, db: Session, settings: Settings) -> None:
    enterprise = add_enterprise(db)
    from tests.api.factories import add_bank

    bank = add_bank(db)
    key = add_key(db, add_account(db, "bank", bank=bank), settings)
    add_authorisation(db, enterprise.uscc, bank, expires_at=utcnow() - timedelta(seconds=1))
    add_profile(db, enterprise.uscc, date(2026, 3, 31))

    response = client.post("/v1/scores", json={"uscc": enterprise.uscc}, headers=bearer(key))

    assert response.status_code == 403


@pytest.mark.parametrize(("purpose", "scopes"), [("post_loan", ("score",)), ("pre_credit", ("profile",))])
def test_grant_for_another_purpose_or_scope_gets_403(
    client: TestClient, scenario: Scenario, db: Session, purpose: str, scopes: tuple[str, ...]
) -> None:
    add_authorisation(db, scenario.uscc, scenario.bank_b, purpose=purpose, scopes=scopes)

    response = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_b_key))

    assert response.status_code == 403


def test_enterprise_key_may_not_ask_for_scores(client: TestClient, scenario: Scenario) -> None:
    response = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.enterprise_key))

    assert response.status_code == 403
    assert response.json()["type"].endswith("/forbidden")


def test_invalid_uscc_is_422_naming_field_and_rule(client: TestClient, scenario: Scenario) -> None:
    good = scenario.uscc
    wrong_check = good[:17] + next(c for c in "0123456789" if c != check_character(good[:17]))

    response = client.post("/v1/scores", json={"uscc": wrong_check}, headers=bearer(scenario.bank_a_key))

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert errors[0]["field"] == "uscc"
    assert errors[0]["rule"] == "uscc.check_character"


def test_unknown_enterprise_is_404(client: TestClient, scenario: Scenario) -> None:
    from tests.api.factories import new_uscc

    response = client.post("/v1/scores", json={"uscc": new_uscc()}, headers=bearer(scenario.bank_a_key))

    assert response.status_code == 404
    assert response.json()["type"].endswith("/not-found")


def test_enterprise_without_profile_is_404_no_profile(client: TestClient, db: Session, scenario: Scenario) -> None:
    other = add_enterprise(db)
    add_authorisation(db, other.uscc, scenario.bank_a)

    response = client.post("/v1/scores", json={"uscc": other.uscc}, headers=bearer(scenario.bank_a_key))

    assert response.status_code == 404
    assert response.json()["type"].endswith("/no-profile")


def test_no_model_loaded_is_503(settings: Settings, engine: object, scenario: Scenario) -> None:
    with TestClient(create_app(settings, score_provider=None)) as client:
        response = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key))

    assert response.status_code == 503
    assert response.json()["type"].endswith("/service-unavailable")
