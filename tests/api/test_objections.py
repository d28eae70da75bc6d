"""异议: an enterprise disputes a record, an operator reviews and decides it, receipts at every step."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.models import AuditEvent, Objection, ObjectionChange
from config.settings import Settings
from tests.api.factories import Scenario, add_account, add_enterprise, add_key, bearer

OWN = "/v1/enterprise/objections"
PENALTY = {"source": "registration", "record_key": "REG-2019-0001", "reason": "成立日期登记有误,应为2018年。"}


@pytest.fixture
def operator_key(db: Session, settings: Settings) -> str:
    return add_key(db, add_account(db, "operator"), settings)


def submit(client: TestClient, key: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(OWN, json=body or PENALTY, headers=bearer(key))


def decide(client: TestClient, key: str, objection_id: int, status: str, note: str | None = None) -> Any:
    body = {"status": status} if note is None else {"status": status, "note": note}
    return client.post(f"/v1/objections/{objection_id}/decision", json=body, headers=bearer(key))


def profile(client: TestClient, scenario: Scenario) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/v1/enterprise/profile", headers=bearer(scenario.enterprise_key)).json()
    return body


def test_an_objection_is_received_and_flags_the_record(client: TestClient, scenario: Scenario) -> None:
    response = submit(client, scenario.enterprise_key)

    assert response.status_code == 201
    receipt = response.json()
    assert (receipt["uscc"], receipt["status"], receipt["source"], receipt["record_key"]) == (
        scenario.uscc, "submitted", "registration", "REG-2019-0001")
    assert [h["status"] for h in receipt["history"]] == ["submitted"]
    assert datetime.fromisoformat(receipt["history"][0]["at"]) == datetime.fromisoformat(receipt["submitted_at"])
    shown = profile(client, scenario)
    assert shown["disputed_records"] == [
        {"objection_id": receipt["id"], "source": "registration", "record_key": "REG-2019-0001",
         "status": "submitted"}]
    flags = {f["name"]: f["disputed"] for f in shown["features"]}
    assert flags["age_months"] is True  # a registration feature
    assert flags["tax_paid_12m"] is False


def test_the_objection_goes_through_review_to_a_decision(
    client: TestClient, scenario: Scenario, operator_key: str, db: Session
) -> None:
    objection_id = submit(client, scenario.enterprise_key).json()["id"]

    in_review = decide(client, operator_key, objection_id, "in_review")
    still_flagged = profile(client, scenario)["disputed_records"]
    corrected = decide(client, operator_key, objection_id, "corrected", "登记机关已更正成立日期。")
    listed = client.get(OWN, headers=bearer(scenario.enterprise_key)).json()

    assert in_review.status_code == 200 and in_review.json()["status"] == "in_review"
    assert [r["status"] for r in still_flagged] == ["in_review"]
    assert corrected.status_code == 200
    assert listed == [corrected.json()]
    assert listed[0]["status"] == "corrected" and listed[0]["decision_note"] == "登记机关已更正成立日期。"
    assert [(h["status"], h["note"]) for h in listed[0]["history"]] == [
        ("submitted", None), ("in_review", None), ("corrected", "登记机关已更正成立日期。")]
    stamps = [datetime.fromisoformat(h["at"]) for h in listed[0]["history"]]
    assert stamps == sorted(stamps)
    assert profile(client, scenario)["disputed_records"] == []
    assert not any(f["disputed"] for f in profile(client, scenario)["features"])
    assert db.scalar(select(func.count()).select_from(ObjectionChange)) == 3


def test_a_rejection_needs_a_note_and_is_final(client: TestClient, scenario: Scenario, operator_key: str) -> None:
    objection_id = submit(client, scenario.enterprise_key).json()["id"]
    decide(client, operator_key, objection_id, "in_review")

    silent = decide(client, operator_key, objection_id, "rejected")
    rejected = decide(client, operator_key, objection_id, "rejected", "记录与登记档案一致。")
    reopened = decide(client, operator_key, objection_id, "in_review")

    assert silent.status_code == 422
    assert silent.json()["errors"] == [
        {"field": "note", "rule": "objection.note_required", "message": "a note is needed to rejected"}]
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert reopened.status_code == 409


def test_a_decision_skips_no_step(client: TestClient, scenario: Scenario, operator_key: str) -> None:
    objection_id = submit(client, scenario.enterprise_key).json()["id"]

    response = decide(client, operator_key, objection_id, "corrected", "直接更正")

    assert response.status_code == 409
    assert response.json()["type"].endswith("/conflict")


def test_bad_objections_are_422_or_409(client: TestClient, scenario: Scenario, db: Session) -> None:
    unknown_source = submit(client, scenario.enterprise_key, {**PENALTY, "source": "gossip"})
    short_reason = submit(client, scenario.enterprise_key, {**PENALTY, "reason": "no"})
    first = submit(client, scenario.enterprise_key)
    duplicate = submit(client, scenario.enterprise_key)

    assert unknown_source.status_code == 422
    assert unknown_source.json()["errors"][0]["field"] == "source"
    assert unknown_source.json()["errors"][0]["rule"] == "objection.source_unknown"
    assert short_reason.status_code == 422 and short_reason.json()["errors"][0]["field"] == "reason"
    assert (first.status_code, duplicate.status_code) == (201, 409)
    assert db.scalar(select(func.count()).select_from(Objection)) == 1


def test_roles_are_kept_apart(
    client: TestClient, scenario: Scenario, operator_key: str, db: Session, settings: Settings
) -> None:
    objection_id = submit(client, scenario.enterprise_key).json()["id"]

    assert submit(client, scenario.bank_a_key).status_code == 403
    assert submit(client, operator_key).status_code == 403
    assert client.get(OWN, headers=bearer(operator_key)).status_code == 403
    assert client.get("/v1/objections", headers=bearer(scenario.enterprise_key)).status_code == 403
    assert client.get("/v1/objections", headers=bearer(scenario.bank_a_key)).status_code == 403
    assert decide(client, scenario.enterprise_key, objection_id, "in_review").status_code == 403
    assert decide(client, scenario.bank_a_key, objection_id, "in_review").status_code == 403
    assert decide(client, operator_key, objection_id + 1000, "in_review").status_code == 404
    assert client.post(OWN, json=PENALTY).status_code == 401


def test_an_enterprise_sees_only_its_own_objections(
    client: TestClient, scenario: Scenario, db: Session, settings: Settings, operator_key: str
) -> None:
    other = add_enterprise(db)
    other_key = add_key(db, add_account(db, "enterprise", uscc=other.uscc), settings)
    mine = submit(client, scenario.enterprise_key).json()
    theirs = submit(client, other_key, {**PENALTY, "record_key": "REG-2020-0002"}).json()

    assert client.get(OWN, headers=bearer(scenario.enterprise_key)).json() == [mine]
    assert client.get(OWN, headers=bearer(other_key)).json() == [theirs]
    queue = client.get("/v1/objections", params={"status": "submitted"}, headers=bearer(operator_key)).json()
    assert [o["id"] for o in queue] == [mine["id"], theirs["id"]]
    audited = db.scalars(select(AuditEvent).where(AuditEvent.action == "objection.list")).one()
    assert audited.detail == f"objections {mine['id']},{theirs['id']}"


def test_the_operator_queue_filters_by_status(client: TestClient, scenario: Scenario, operator_key: str) -> None:
    first = submit(client, scenario.enterprise_key).json()["id"]
    submit(client, scenario.enterprise_key, {**PENALTY, "record_key": "REG-2019-0002"})
    decide(client, operator_key, first, "in_review")

    in_review = client.get("/v1/objections", params={"status": "in_review"}, headers=bearer(operator_key)).json()
    bad = client.get("/v1/objections", params={"status": "lost"}, headers=bearer(operator_key))

    assert [o["id"] for o in in_review] == [first]
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"


def test_operator_work_is_audited_and_shown_to_the_enterprise(
    client: TestClient, scenario: Scenario, operator_key: str, db: Session
) -> None:
    objection_id = submit(client, scenario.enterprise_key).json()["id"]
    decide(client, operator_key, objection_id, "in_review")

    row = db.scalars(select(AuditEvent).where(AuditEvent.action == "objection.decide")).one()
    log = client.get("/v1/enterprise/access-log", headers=bearer(scenario.enterprise_key)).json()

    assert (row.actor_role, row.uscc, row.outcome, row.detail) == (
        "operator", scenario.uscc, "allowed", f"objection {objection_id} in_review")
    assert [(i["actor_role"], i["action"], i["bank_code"]) for i in log["items"]] == [
        ("operator", "objection.decide", None)]
    created = db.scalars(select(AuditEvent).where(AuditEvent.action == "objection.create")).one()
    assert (created.actor_role, created.uscc) == ("enterprise", scenario.uscc)
