"""授权: enterprises grant, list and revoke; receipts show the state; limits and ownership hold."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.db.models import Authorisation, utcnow
from config.settings import Settings
from tests.api.factories import Scenario, add_account, add_authorisation, add_enterprise, add_key, bearer

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


def events(receipt: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """A receipt's history as (event, scopes) pairs."""
    return [(e["event"], e["scopes"]) for e in receipt["history"]]


def test_grant_change_and_revoke_each_leave_a_receipt(client: TestClient, scenario: Scenario) -> None:
    headers = bearer(scenario.enterprise_key)
    granted = client.post(URL, json={"bank_code": scenario.bank_b.code, "scopes": ["score", "profile"]},
                          headers=headers).json()
    changed = client.patch(f"{URL}/{granted['id']}", json={"scopes": ["profile"]}, headers=headers)
    revoked = client.delete(f"{URL}/{granted['id']}", headers=headers).json()

    assert events(granted) == [("granted", ["profile", "score"])]
    assert changed.status_code == 200
    assert events(changed.json()) == [("granted", ["profile", "score"]), ("changed", ["profile"])]
    assert events(revoked) == [("granted", ["profile", "score"]), ("changed", ["profile"]), ("revoked", ["profile"])]
    listed = {g["id"]: g for g in client.get(URL, headers=headers).json()}
    assert listed[granted["id"]]["history"] == revoked["history"]


def test_narrowing_the_scopes_binds_the_next_request(client: TestClient, scenario: Scenario) -> None:
    before = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key))
    client.patch(f"{URL}/{scenario.grant.id}", json={"scopes": ["profile"]}, headers=bearer(scenario.enterprise_key))
    after = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key))

    assert (before.status_code, after.status_code) == (200, 403)


def test_a_grant_stored_without_receipts_keeps_its_original_terms(
    client: TestClient, scenario: Scenario
) -> None:
    changed = client.patch(f"{URL}/{scenario.grant.id}", json={"days": 10}, headers=bearer(scenario.enterprise_key))

    history = changed.json()["history"]
    assert [h["event"] for h in history] == ["granted", "changed"]
    assert datetime.fromisoformat(history[0]["expires_at"]) == scenario.grant.expires_at
    assert datetime.fromisoformat(history[0]["at"]) == scenario.grant.granted_at
    new_expiry = datetime.fromisoformat(changed.json()["expires_at"])
    assert new_expiry == datetime.fromisoformat(history[1]["expires_at"])
    assert timedelta(days=10) - timedelta(minutes=1) < new_expiry - datetime.fromisoformat(history[1]["at"])


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({}, "body", "authorisation.change_empty"),
        ({"days": 366}, "days", "authorisation.days_max"),
        ({"scopes": []}, "scopes", "too_short"),
        ({"scopes": ["everything"]}, "scopes.0", "literal_error"),
        ({"bank_id": 2}, "bank_id", "extra_forbidden"),
    ],
)
def test_a_bad_change_is_422_and_changes_nothing(
    client: TestClient, scenario: Scenario, db: Session, body: dict[str, Any], field: str, rule: str
) -> None:
    response = client.patch(f"{URL}/{scenario.grant.id}", json=body, headers=bearer(scenario.enterprise_key))

    assert response.status_code == 422
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [(field, rule)]
    db.expire_all()
    stored = db.get(Authorisation, scenario.grant.id)
    assert stored is not None
    assert (stored.scopes, stored.expires_at) == (scenario.grant.scopes, scenario.grant.expires_at)


def test_only_an_active_grant_can_be_changed(client: TestClient, scenario: Scenario, db: Session) -> None:
    headers = bearer(scenario.enterprise_key)
    expired = add_authorisation(db, scenario.uscc, scenario.bank_b, expires_at=utcnow() - timedelta(days=1))
    client.delete(f"{URL}/{scenario.grant.id}", headers=headers)

    assert client.patch(f"{URL}/{scenario.grant.id}", json={"days": 5}, headers=headers).status_code == 409
    assert client.patch(f"{URL}/{expired.id}", json={"days": 5}, headers=headers).status_code == 409


def test_an_expired_grant_lists_its_expiry(client: TestClient, scenario: Scenario, db: Session) -> None:
    ended = utcnow() - timedelta(hours=1)  # granted a day ago (the factory), ended an hour ago
    expired = add_authorisation(db, scenario.uscc, scenario.bank_b, expires_at=ended)

    listed = {g["id"]: g for g in client.get(URL, headers=bearer(scenario.enterprise_key)).json()}

    assert listed[expired.id]["status"] == "expired"
    assert [(h["event"], datetime.fromisoformat(h["at"])) for h in listed[expired.id]["history"]][-1] == (
        "expired", ended)
    assert [h["event"] for h in listed[scenario.grant.id]["history"]] == ["granted"]


def test_others_cannot_change_a_grant(client: TestClient, scenario: Scenario, db: Session, settings: Settings) -> None:
    other_key = add_key(db, add_account(db, "enterprise", uscc=add_enterprise(db).uscc), settings)
    url = f"{URL}/{scenario.grant.id}"

    assert client.patch(url, json={"days": 5}, headers=bearer(other_key)).status_code == 404
    assert client.patch(url, json={"days": 5}, headers=bearer(scenario.bank_a_key)).status_code == 403
    assert client.patch(url, json={"days": 5}).status_code == 401
