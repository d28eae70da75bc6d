"""授权: enterprises grant, list and revoke; receipts show the state; limits and ownership hold."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.db.models import Authorisation
from config.settings import Settings
from tests.api.factories import Scenario, add_account, add_enterprise, add_key, bearer

URL = "/v1/enterprise/authorisations"


def test_grant_returns_a_receipt(client: TestClient, scenario: Scenario, db: Session, settings: Settings) -> None:
    body = {"bank_code": scenario.bank_b.code, "purpose": "pre_credit", "scopes": ["score"], "days": 90}

    response = client.post(URL, json=body, headers=bearer(scenario.enterprise_key))

    assert response.status_code == 201
    receipt = response.json()
    assert receipt["uscc"] == scenario.uscc
    assert receipt["bank_code"] == scenario.bank_b.code
    assert receipt["purpose"] == "pre_credit"
    assert receipt["scopes"] == ["score"]
    assert receipt["status"] == "active"
    assert receipt["revoked_at"] is None
    granted = datetime.fromisoformat(receipt["granted_at"])
    assert datetime.fromisoformat(receipt["expires_at"]) - granted == timedelta(days=90)
    stored = db.get(Authorisation, receipt["id"])
    assert stored is not None
    assert stored.granted_by_account_id == scenario.enterprise_account.id


def test_grant_lets_the_bank_score(client: TestClient, scenario: Scenario) -> None:
    before = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_b_key))
    client.post(URL, json={"bank_code": scenario.bank_b.code}, headers=bearer(scenario.enterprise_key))
    after = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_b_key))

    assert (before.status_code, after.status_code) == (403, 200)


def test_default_days_come_from_settings(client: TestClient, scenario: Scenario, settings: Settings) -> None:
    receipt = client.post(URL, json={"bank_code": scenario.bank_b.code}, headers=bearer(scenario.enterprise_key)).json()

    length = datetime.fromisoformat(receipt["expires_at"]) - datetime.fromisoformat(receipt["granted_at"])
    assert length == timedelta(days=settings.authorisation_days_default)


def test_days_over_the_maximum_is_422(client: TestClient, scenario: Scenario, settings: Settings) -> None:
    body = {"bank_code": scenario.bank_b.code, "days": settings.authorisation_days_max + 1}

    response = client.post(URL, json=body, headers=bearer(scenario.enterprise_key))

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "days",
            "rule": "authorisation.days_max",
            "message": f"at most {settings.authorisation_days_max} days",
        }
    ]


def test_unknown_bank_and_unknown_scope_are_422(client: TestClient, scenario: Scenario) -> None:
    unknown_bank = client.post(URL, json={"bank_code": "NO_SUCH_BANK"}, headers=bearer(scenario.enterprise_key))
    bad_scope = client.post(
        URL, json={"bank_code": scenario.bank_b.code, "scopes": ["everything"]}, headers=bearer(scenario.enterprise_key)
    )

    assert unknown_bank.status_code == 422
    assert unknown_bank.json()["errors"][0]["field"] == "bank_code"
    assert bad_scope.status_code == 422
    assert bad_scope.json()["errors"][0]["field"] == "scopes.0"


def test_a_second_active_grant_for_the_same_bank_is_409(client: TestClient, scenario: Scenario) -> None:
    response = client.post(URL, json={"bank_code": scenario.bank_a.code}, headers=bearer(scenario.enterprise_key))

    assert response.status_code == 409
    assert response.json()["type"].endswith("/conflict")


def test_list_shows_own_grants_only(client: TestClient, scenario: Scenario, db: Session, settings: Settings) -> None:
    other = add_enterprise(db)
    other_key = add_key(db, add_account(db, "enterprise", uscc=other.uscc), settings)

    mine = client.get(URL, headers=bearer(scenario.enterprise_key)).json()
    theirs = client.get(URL, headers=bearer(other_key)).json()

    assert [g["id"] for g in mine] == [scenario.grant.id]
    assert theirs == []


def test_revoke_is_immediate_and_idempotent(client: TestClient, scenario: Scenario) -> None:
    first = client.delete(f"{URL}/{scenario.grant.id}", headers=bearer(scenario.enterprise_key))
    again = client.delete(f"{URL}/{scenario.grant.id}", headers=bearer(scenario.enterprise_key))
    listed = client.get(URL, headers=bearer(scenario.enterprise_key)).json()

    assert first.status_code == 200
    assert first.json()["status"] == "revoked"
    assert again.json()["revoked_at"] == first.json()["revoked_at"]
    assert listed[0]["status"] == "revoked"


def test_another_enterprise_cannot_revoke(
    client: TestClient, scenario: Scenario, db: Session, settings: Settings
) -> None:
    other = add_enterprise(db)
    other_key = add_key(db, add_account(db, "enterprise", uscc=other.uscc), settings)

    response = client.delete(f"{URL}/{scenario.grant.id}", headers=bearer(other_key))
    still = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key))

    assert response.status_code == 404
    assert still.status_code == 200


def test_banks_cannot_manage_grants(client: TestClient, scenario: Scenario) -> None:
    listed = client.get(URL, headers=bearer(scenario.bank_a_key))
    revoked = client.delete(f"{URL}/{scenario.grant.id}", headers=bearer(scenario.bank_a_key))

    assert (listed.status_code, revoked.status_code) == (403, 403)
