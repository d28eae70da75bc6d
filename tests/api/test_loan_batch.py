"""POST /v1/loan-events: many events at once, each authorised, ordered and stored once on its own, each audited."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.models import AuditEvent, LoanEvent
from api.schemas_loans import MAX_BATCH_EVENTS
from tests.api.factories import Scenario, add_enterprise, bearer, loan_event

URL = "/v1/loan-events"
D0 = date(2026, 3, 1)


def item(loan_id: str, uscc: str, kind: str, offset: int = 0, **details: Any) -> dict[str, Any]:
    return {"bank_loan_id": loan_id, "event": loan_event(uscc, kind, D0 + timedelta(days=offset), **details)}


def stored_events(db: Session) -> int:
    db.expire_all()
    return int(db.scalar(select(func.count()).select_from(LoanEvent)) or 0)


def test_each_item_gets_the_answer_the_single_endpoint_would_give(
    client: TestClient, scenario: Scenario, db: Session
) -> None:
    stranger = add_enterprise(db).uscc  # never authorised bank A
    items = [
        item("LN-1", scenario.uscc, "approval"),
        item("LN-1", scenario.uscc, "disbursement", 2),
        item("LN-1", scenario.uscc, "approval"),  # the same event again
        item("LN-2", scenario.uscc, "repayment", 5),  # no disbursement on LN-2
        item("LN-3", stranger, "application"),
        item("LN-1", scenario.uscc, "disbursement", 2, amount=1),  # another payload under a stored key
    ]

    response = client.post(URL, json={"items": items}, headers=bearer(scenario.bank_a_key))

    assert response.status_code == 200
    body = response.json()
    assert [r["status"] for r in body["results"]] == [201, 201, 200, 422, 403, 409]
    assert (body["stored"], body["replayed"], body["refused"]) == (2, 1, 3)
    results = body["results"]
    assert results[2]["event"] == results[0]["event"]
    assert results[3]["problem"]["errors"][0]["rule"] == "loan_event.before_disbursement"
    assert results[4]["problem"]["type"].endswith("/not-authorised") and results[4]["event"] is None
    assert results[5]["problem"]["type"].endswith("/conflict")
    assert stored_events(db) == 2
    loan = client.get("/v1/loans/LN-1", headers=bearer(scenario.bank_a_key)).json()
    assert [e["id"] for e in loan["events"]] == [results[0]["event"]["id"], results[1]["event"]["id"]]


def test_every_item_is_audited_with_its_enterprise(client: TestClient, scenario: Scenario, db: Session) -> None:
    stranger = add_enterprise(db).uscc
    items = [item("LN-1", scenario.uscc, "application"), item("LN-9", stranger, "application")]

    client.post(URL, json={"items": items}, headers=bearer(scenario.bank_a_key))

    rows = db.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(r.action, r.uscc, r.outcome, r.http_status) for r in rows] == [
        ("loan.report_batch_item", scenario.uscc, "allowed", 201),
        ("loan.report_batch_item", stranger, "denied", 403),
        ("loan.report_batch", None, "allowed", 200),
    ]
    assert len({r.request_id for r in rows}) == 1
    log = client.get("/v1/enterprise/access-log", headers=bearer(scenario.enterprise_key)).json()
    assert [(i["action"], i["authorisation_id"]) for i in log["items"]] == [
        ("loan.report_batch_item", scenario.grant.id)]


def test_a_bad_field_refuses_the_whole_batch_naming_the_item(
    client: TestClient, scenario: Scenario, db: Session
) -> None:
    items = [item("LN-1", scenario.uscc, "application"), item("LN-1", scenario.uscc, "approval", 1, amount=-1)]

    response = client.post(URL, json={"items": items}, headers=bearer(scenario.bank_a_key))

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "items.1.event.amount"
    assert stored_events(db) == 0


def test_batch_size_is_bounded_and_only_banks_may_send(client: TestClient, scenario: Scenario) -> None:
    too_many = [item(f"LN-{i}", scenario.uscc, "application") for i in range(MAX_BATCH_EVENTS + 1)]

    big = client.post(URL, json={"items": too_many}, headers=bearer(scenario.bank_a_key))
    empty = client.post(URL, json={"items": []}, headers=bearer(scenario.bank_a_key))
    enterprise = client.post(URL, json={"items": [item("LN-1", scenario.uscc, "application")]},
                             headers=bearer(scenario.enterprise_key))

    anonymous = client.post(URL, json={"items": [item("LN-1", scenario.uscc, "application")]})

    assert (big.status_code, empty.status_code, enterprise.status_code, anonymous.status_code) == (422, 422, 403, 401)
    assert big.json()["errors"][0]["field"] == "items"
