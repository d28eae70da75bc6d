"""Who may call the loan, self-service, objection and review endpoints: every endpoint × every role.

Roles: anonymous, bank A (holds the enterprise's grant), bank B (no grant), the enterprise itself, another
enterprise, operator, regulator, analyst. Every call, allowed or refused, leaves exactly one audit row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.models import AuditEvent
from config.settings import Settings
from tests.api.factories import Scenario, add_account, add_enterprise, add_key, add_loan, bearer, loan_event

ROLES = ("anonymous", "bank_a", "bank_b", "enterprise", "other_enterprise", "operator", "regulator", "analyst")


@dataclass
class Cast:
    """Keys by role, and what the endpoints below name (a loan, a score, an objection)."""

    keys: dict[str, str | None]
    uscc: str
    score_id: str
    objection_id: int
    audit_rows_before: int


@pytest.fixture
def cast(client: TestClient, scenario: Scenario, db: Session, settings: Settings) -> Cast:
    other = add_enterprise(db)
    keys: dict[str, str | None] = {
        "anonymous": None,
        "bank_a": scenario.bank_a_key,
        "bank_b": scenario.bank_b_key,
        "enterprise": scenario.enterprise_key,
        "other_enterprise": add_key(db, add_account(db, "enterprise", uscc=other.uscc), settings),
        **{role: add_key(db, add_account(db, role), settings) for role in ("operator", "regulator", "analyst")},
    }
    add_loan(db, scenario.bank_a, scenario.uscc, "LN-0")
    score_id = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key)).json()
    objection = client.post("/v1/enterprise/objections", headers=bearer(scenario.enterprise_key),
                            json={"source": "judicial", "record_key": "(2025)闽0102执1号", "reason": "已履行完毕"})
    audited = db.scalar(select(func.count()).select_from(AuditEvent)) or 0  # append-only log: count from here
    return Cast(keys, scenario.uscc, score_id["id"], objection.json()["id"], audited)


# (method, path template, body template, {role: status}); roles not named get 403, anonymous always 401
MATRIX: list[tuple[str, str, str | None, dict[str, int]]] = [
    ("POST", "/v1/loans/LN-1/events", "loan", {"bank_a": 201}),
    ("GET", "/v1/loans/LN-0", None, {"bank_a": 200, "bank_b": 404}),
    ("GET", "/v1/enterprise/profile", None, {"enterprise": 200, "other_enterprise": 404}),
    ("GET", "/v1/enterprise/score", None, {"enterprise": 200, "other_enterprise": 404}),
    ("GET", "/v1/enterprise/access-log", None, {"enterprise": 200, "other_enterprise": 200}),
    ("GET", "/v1/enterprise/decisions", None, {"enterprise": 200, "other_enterprise": 200}),
    ("POST", "/v1/enterprise/reviews", "review", {"enterprise": 201, "other_enterprise": 422}),
    ("GET", "/v1/enterprise/reviews", None, {"enterprise": 200, "other_enterprise": 200}),
    ("POST", "/v1/enterprise/objections", "objection", {"enterprise": 201, "other_enterprise": 201}),
    ("GET", "/v1/enterprise/objections", None, {"enterprise": 200, "other_enterprise": 200}),
    ("GET", "/v1/objections", None, {"operator": 200}),
    ("POST", "/v1/objections/{objection_id}/decision", "decision", {"operator": 200}),
    ("GET", "/v1/reviews", None, {"operator": 200}),
]


def _body(kind: str | None, cast: Cast) -> dict[str, Any] | None:
    if kind == "loan":
        return loan_event(cast.uscc, "application", date(2026, 3, 1))
    if kind == "review":
        return {"score_request_id": cast.score_id, "reason": "请人工复核该决定"}
    if kind == "objection":
        return {"source": "admin_records", "record_key": "闽罚〔2025〕7号", "reason": "该处罚已信用修复"}
    if kind == "decision":
        return {"status": "in_review"}
    return None


@pytest.mark.parametrize(("method", "path", "body", "allowed"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_every_role_gets_what_it_may_and_every_call_is_audited(
    client: TestClient, cast: Cast, db: Session, method: str, path: str, body: str | None, allowed: dict[str, int]
) -> None:
    url = path.format(objection_id=cast.objection_id)
    got = {}
    for role in ROLES:
        key = cast.keys[role]
        response = client.request(method, url, json=_body(body, cast), headers=bearer(key) if key else {})
        got[role] = response.status_code
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"

    expected = {role: 401 if role == "anonymous" else allowed.get(role, 403) for role in ROLES}
    assert got == expected
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == cast.audit_rows_before + len(ROLES)
