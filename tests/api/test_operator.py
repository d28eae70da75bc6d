"""运营: operators connect banks, open accounts, rotate and revoke keys, disable accounts; bootstrap from the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api import cli
from api.db.models import Account, ApiKey, AuditEvent, utcnow
from api.security import parse_key
from config import settings as settings_module
from config.settings import Settings
from tests.api.factories import Scenario, add_account, add_enterprise, add_key, bearer

OP = "/v1/operator"


@dataclass
class Operator:
    """An operator account and its key's headers."""

    account: Account
    headers: dict[str, str]


@pytest.fixture
def operator(db: Session, settings: Settings) -> Operator:
    account = add_account(db, "operator")
    return Operator(account, bearer(add_key(db, account, settings)))


def score(client: TestClient, scenario: Scenario, key: str) -> int:
    """The status of a score request with this key."""
    return client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(key)).status_code


def test_connect_a_bank_open_its_account_and_score_with_the_issued_key(
    client: TestClient, operator: Operator, scenario: Scenario, db: Session
) -> None:
    bank = client.post(f"{OP}/banks", json={"code": "FJ_RURAL", "name": "福建农商"}, headers=operator.headers)
    account = client.post(f"{OP}/accounts", headers=operator.headers,
                          json={"role": "bank", "display_name": "信贷部", "bank_code": "FJ_RURAL"})
    issued = client.post(f"{OP}/accounts/{account.json()['id']}/keys", headers=operator.headers)
    grant = {"bank_code": "FJ_RURAL"}
    client.post("/v1/enterprise/authorisations", json=grant, headers=bearer(scenario.enterprise_key))

    assert (bank.status_code, account.status_code, issued.status_code) == (201, 201, 201)
    assert account.json()["bank_code"] == "FJ_RURAL"
    assert account.json()["status"] == "active"
    key = issued.json()["key"]
    assert issued.json()["key_id"] == parse_key(key).key_id
    assert score(client, scenario, key) == 200
    stored = db.scalars(select(ApiKey).where(ApiKey.key_id == issued.json()["key_id"])).one()
    assert parse_key(key).secret not in stored.hash
    listed = client.get(f"{OP}/accounts/{account.json()['id']}/keys", headers=operator.headers).json()
    assert [k["key_id"] for k in listed] == [issued.json()["key_id"]]
    assert "key" not in listed[0]


def test_a_taken_bank_code_is_409(client: TestClient, operator: Operator, scenario: Scenario) -> None:
    response = client.post(f"{OP}/banks", json={"code": scenario.bank_a.code, "name": "x"}, headers=operator.headers)

    assert response.status_code == 409


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"role": "bank", "display_name": "b"}, "bank_code", "account.bank_code_required"),
        ({"role": "bank", "display_name": "b", "bank_code": "NOPE"}, "bank_code", "bank_code.unknown"),
        ({"role": "enterprise", "display_name": "e"}, "uscc", "account.uscc_required"),
        ({"role": "enterprise", "display_name": "e", "uscc": "91350100M000100Y43"}, "uscc", "uscc.unknown"),
        ({"role": "regulator", "display_name": "r", "uscc": "91350100M000100Y43"}, "uscc", "account.uscc_not_allowed"),
        ({"role": "analyst", "display_name": "a", "bank_code": "X"}, "bank_code", "account.bank_code_not_allowed"),
        ({"role": "enterprise", "display_name": "e", "uscc": "91350100M000100Y4I"}, "uscc", "uscc.charset"),
        ({"role": "root", "display_name": "r"}, "role", "literal_error"),
    ],
)
def test_accounts_with_a_wrong_link_are_422_and_not_stored(
    client: TestClient, operator: Operator, db: Session, body: dict[str, str], field: str, rule: str
) -> None:
    before = db.scalar(select(Account.id).order_by(Account.id.desc()).limit(1))

    response = client.post(f"{OP}/accounts", json=body, headers=operator.headers)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [(field, rule)]
    assert db.scalar(select(Account.id).order_by(Account.id.desc()).limit(1)) == before


def test_an_enterprise_account_is_bound_to_a_registered_uscc(
    client: TestClient, operator: Operator, db: Session, settings: Settings
) -> None:
    enterprise = add_enterprise(db)
    made = client.post(f"{OP}/accounts", headers=operator.headers,
                       json={"role": "enterprise", "display_name": "财务", "uscc": enterprise.uscc}).json()
    key = client.post(f"{OP}/accounts/{made['id']}/keys", headers=operator.headers).json()["key"]

    mine = client.get("/v1/enterprise/authorisations", headers=bearer(key))

    assert made["uscc"] == enterprise.uscc
    assert mine.status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/banks", {"code": "NEW_BANK", "name": "n", "id": 1}),
        ("/accounts", {"role": "analyst", "display_name": "a", "disabled_at": None}),
        ("/accounts/{id}", {"disabled": False, "role": "operator"}),
        ("/accounts/{id}/keys", {"key_id": "chosenbyme"}),
    ],
)
def test_mass_assignment_is_refused(
    client: TestClient, operator: Operator, db: Session, path: str, body: dict[str, object]
) -> None:
    target = add_account(db, "analyst")
    method = "PATCH" if path == "/accounts/{id}" else "POST"

    response = client.request(method, OP + path.format(id=target.id), json=body, headers=operator.headers)

    assert response.status_code == 422
    assert response.json()["errors"][0]["rule"] == "extra_forbidden"
    db.expire_all()
    assert db.get(Account, target.id).role == "analyst"  # type: ignore[union-attr]
    assert db.scalars(select(ApiKey).where(ApiKey.account_id == target.id)).first() is None


def test_rotation_without_downtime(client: TestClient, operator: Operator, scenario: Scenario, db: Session) -> None:
    bank_account = db.scalars(select(Account).where(Account.bank_id == scenario.bank_a.id)).one()
    old_key = scenario.bank_a_key

    new_key = client.post(f"{OP}/accounts/{bank_account.id}/keys", headers=operator.headers).json()["key"]
    both_work = (score(client, scenario, old_key), score(client, scenario, new_key))
    revoked = client.delete(f"{OP}/keys/{parse_key(old_key).key_id}", headers=operator.headers)

    assert both_work == (200, 200)
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert (score(client, scenario, old_key), score(client, scenario, new_key)) == (401, 200)
    again = client.delete(f"{OP}/keys/{parse_key(old_key).key_id}", headers=operator.headers)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]


def test_a_key_with_an_expiry_stops_working_by_itself(
    client: TestClient, operator: Operator, scenario: Scenario, db: Session
) -> None:
    bank_account = db.scalars(select(Account).where(Account.bank_id == scenario.bank_a.id)).one()
    soon = (utcnow() + timedelta(hours=1)).isoformat()
    issued = client.post(f"{OP}/accounts/{bank_account.id}/keys", json={"expires_at": soon}, headers=operator.headers)
    key = issued.json()["key"]
    assert score(client, scenario, key) == 200

    stored = db.scalars(select(ApiKey).where(ApiKey.key_id == parse_key(key).key_id)).one()
    stored.expires_at = utcnow() - timedelta(seconds=1)  # the hour has passed
    db.commit()

    assert score(client, scenario, key) == 401
    listed = client.get(f"{OP}/accounts/{bank_account.id}/keys", headers=operator.headers).json()
    assert {k["key_id"]: k["status"] for k in listed}[stored.key_id] == "expired"


@pytest.mark.parametrize("expires_at", ["2020-01-01T00:00:00+00:00", "2099-01-01T00:00:00"])
def test_an_expiry_in_the_past_or_without_timezone_is_422(
    client: TestClient, operator: Operator, db: Session, expires_at: str
) -> None:
    target = add_account(db, "analyst")

    response = client.post(f"{OP}/accounts/{target.id}/keys", json={"expires_at": expires_at},
                           headers=operator.headers)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "expires_at"


def test_disabling_takes_effect_on_the_next_request_despite_the_key_cache(
    client: TestClient, operator: Operator, scenario: Scenario, db: Session
) -> None:
    bank_account = db.scalars(select(Account).where(Account.bank_id == scenario.bank_a.id)).one()
    assert score(client, scenario, scenario.bank_a_key) == 200  # now in the verifier's cache

    disabled = client.patch(f"{OP}/accounts/{bank_account.id}", json={"disabled": True}, headers=operator.headers)
    refused = score(client, scenario, scenario.bank_a_key)
    no_new_key = client.post(f"{OP}/accounts/{bank_account.id}/keys", headers=operator.headers)
    enabled = client.patch(f"{OP}/accounts/{bank_account.id}", json={"disabled": False}, headers=operator.headers)

    assert disabled.json()["status"] == "disabled"
    assert refused == 401
    assert no_new_key.status_code == 409
    assert enabled.json()["status"] == "active"
    assert score(client, scenario, scenario.bank_a_key) == 200


def test_an_operator_cannot_disable_itself(client: TestClient, operator: Operator) -> None:
    response = client.patch(f"{OP}/accounts/{operator.account.id}", json={"disabled": True}, headers=operator.headers)

    assert response.status_code == 409


def test_unknown_account_and_key_are_404(client: TestClient, operator: Operator) -> None:
    assert client.get(f"{OP}/accounts/999999", headers=operator.headers).status_code == 404
    assert client.delete(f"{OP}/keys/0123456789abcdef", headers=operator.headers).status_code == 404


def test_lists_page_and_filter(client: TestClient, operator: Operator, scenario: Scenario) -> None:
    first = client.get(f"{OP}/banks", params={"limit": 1}, headers=operator.headers)
    second = client.get(f"{OP}/banks", params={"limit": 1, "cursor": first.headers["x-next-cursor"]},
                        headers=operator.headers)
    bank_accounts = client.get(f"{OP}/accounts", params={"role": "bank"}, headers=operator.headers).json()

    assert [b["code"] for b in first.json() + second.json()] == [scenario.bank_a.code, scenario.bank_b.code]
    assert "x-next-cursor" not in second.headers
    assert {a["bank_code"] for a in bank_accounts} == {scenario.bank_a.code, scenario.bank_b.code}
    assert all(a["role"] == "bank" for a in bank_accounts)


def test_operator_changes_are_audited_without_the_key(
    client: TestClient, operator: Operator, db: Session, scenario: Scenario
) -> None:
    target = add_account(db, "enterprise", uscc=scenario.uscc)
    issued = client.post(f"{OP}/accounts/{target.id}/keys", headers=operator.headers).json()

    row = db.scalars(select(AuditEvent).where(AuditEvent.action == "operator.key_issue")).one()

    assert (row.actor_account_id, row.actor_role, row.uscc) == (operator.account.id, "operator", scenario.uscc)
    assert row.detail == f"key {issued['key_id']} issued to account {target.id}"
    assert parse_key(issued["key"]).secret not in " ".join(str(v) for v in vars(row).values())


@pytest.fixture
def cli_database(database_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The CLI pointed at the (migrated, empty) test database."""
    monkeypatch.setenv("XINYI_DATABASE_URL", database_url)
    settings_module.get_settings.cache_clear()
    yield engine
    settings_module.get_settings.cache_clear()


def test_bootstrap_prints_a_working_operator_key_once(
    cli_database: Engine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli.main(["accounts", "create-operator", "--name", "平台运营"]) == 0
    out = capsys.readouterr().out
    key = next(word for word in out.split() if word.startswith("xk_"))

    settings = settings_module.get_settings()
    from api.app import create_app

    with TestClient(create_app(settings)) as client:
        response = client.get(f"{OP}/accounts", headers=bearer(key))
    assert response.status_code == 200
    assert [(a["role"], a["display_name"]) for a in response.json()] == [("operator", "平台运营")]
    with Session(cli_database) as session:
        assert all(parse_key(key).secret not in k.hash for k in session.scalars(select(ApiKey)))


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [("GET", "/accounts/99999999999999", "account_id"), ("GET", "/accounts/0/keys", "account_id"),
     ("DELETE", "/keys/not-a-key-id!", "key_id")],
)
def test_out_of_range_ids_are_422_naming_the_parameter(
    client: TestClient, operator: Operator, method: str, path: str, field: str
) -> None:
    response = client.request(method, OP + path, headers=operator.headers)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field
