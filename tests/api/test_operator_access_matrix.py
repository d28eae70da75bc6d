"""Who may call the operator endpoints: every endpoint × every role, each call audited, the chain intact after.

Roles: anonymous, a bank, an enterprise, a regulator, an analyst, a disabled operator and an operator. Only the
(enabled) operator gets through; everyone else is refused before anything is looked up or changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.audit_chain import verify_chain
from api.db.models import Account, ApiKey, AuditEvent, Bank, utcnow
from api.security import parse_key
from config.settings import Settings
from tests.api.factories import Scenario, add_account, add_key, bearer

ROLES = ("anonymous", "bank", "enterprise", "regulator", "analyst", "disabled_operator", "operator")


@dataclass
class Cast:
    """Keys by role, and the account and key the endpoints name."""

    keys: dict[str, str | None]
    target_account_id: int
    target_key_id: str
    audit_rows_before: int


@pytest.fixture
def cast(scenario: Scenario, db: Session, settings: Settings) -> Cast:
    disabled = add_account(db, "operator")
    keys: dict[str, str | None] = {
        "anonymous": None,
        "bank": scenario.bank_a_key,
        "enterprise": scenario.enterprise_key,
        **{role: add_key(db, add_account(db, role), settings) for role in ("regulator", "analyst", "operator")},
        "disabled_operator": add_key(db, disabled, settings),
    }
    disabled.disabled_at = utcnow()
    target = add_account(db, "analyst")
    target_key = parse_key(add_key(db, target, settings)).key_id
    db.commit()
    audited = db.scalar(select(func.count()).select_from(AuditEvent)) or 0
    return Cast(keys, target.id, target_key, audited)


# (method, path, body, status for the operator); every other role: 401 anonymous, 403 otherwise
MATRIX: list[tuple[str, str, dict[str, Any] | None, int]] = [
    ("POST", "/v1/operator/banks", {"code": "MATRIX_BANK", "name": "矩阵银行"}, 201),
    ("GET", "/v1/operator/banks", None, 200),
    ("POST", "/v1/operator/accounts", {"role": "analyst", "display_name": "分析员"}, 201),
    ("GET", "/v1/operator/accounts", None, 200),
    ("GET", "/v1/operator/accounts/{account_id}", None, 200),
    ("PATCH", "/v1/operator/accounts/{account_id}", {"disabled": True}, 200),
    ("POST", "/v1/operator/accounts/{account_id}/keys", {}, 201),
    ("GET", "/v1/operator/accounts/{account_id}/keys", None, 200),
    ("DELETE", "/v1/operator/keys/{key_id}", None, 200),
]


@pytest.mark.parametrize(("method", "path", "body", "allowed"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_only_an_enabled_operator_gets_through_and_every_call_is_audited(
    client: TestClient, cast: Cast, db: Session, method: str, path: str, body: dict[str, Any] | None, allowed: int
) -> None:
    url = path.format(account_id=cast.target_account_id, key_id=cast.target_key_id)
    before = snapshot(db)
    got = {}
    for role in ROLES:
        if role == "operator":
            assert snapshot(db) == before, "a refused call changed something"
        key = cast.keys[role]
        response = client.request(method, url, json=body, headers=bearer(key) if key else {})
        got[role] = response.status_code
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"

    expected = {role: 401 if role in ("anonymous", "disabled_operator") else 403 for role in ROLES}
    expected["operator"] = allowed
    assert got == expected
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == cast.audit_rows_before + len(ROLES)
    assert verify_chain(db).ok


def snapshot(db: Session) -> tuple[object, ...]:
    """What an operator endpoint could change: banks, accounts and their states, keys and their states."""
    db.expire_all()
    return (
        db.scalars(select(Bank.code).order_by(Bank.id)).all(),
        db.execute(select(Account.id, Account.disabled_at).order_by(Account.id)).all(),
        db.execute(select(ApiKey.key_id, ApiKey.revoked_at).order_by(ApiKey.id)).all(),
    )
