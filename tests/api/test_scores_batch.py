"""POST /v1/scores/batch: each enterprise authorised and scored on its own, as the single endpoint would, each
audited with its enterprise."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.models import AuditEvent, ScoreResponse, utcnow
from api.schemas import MAX_BATCH_SCORES
from tests.api.factories import (
    Scenario,
    add_authorisation,
    add_enterprise,
    add_profile,
    bearer,
    new_uscc,
)

URL = "/v1/scores/batch"


def stored_scores(db: Session) -> int:
    db.expire_all()
    return int(db.scalar(select(func.count()).select_from(ScoreResponse)) or 0)


def test_each_enterprise_gets_the_answer_the_single_endpoint_would_give(
    client: TestClient, scenario: Scenario, db: Session
) -> None:
    stranger = add_enterprise(db).uscc  # never authorised bank A
    no_profile = add_enterprise(db).uscc
    add_authorisation(db, no_profile, scenario.bank_a)
    unknown = new_uscc()
    revoked = add_enterprise(db).uscc
    add_profile(db, revoked, scenario.profile_as_of)
    add_authorisation(db, revoked, scenario.bank_a, revoked_at=utcnow() - timedelta(minutes=1))
    usccs = [scenario.uscc, stranger, no_profile, unknown, revoked]

    batch = client.post(URL, json={"usccs": usccs}, headers=bearer(scenario.bank_a_key))
    singles = [client.post("/v1/scores", json={"uscc": u}, headers=bearer(scenario.bank_a_key)) for u in usccs]

    assert batch.status_code == 200
    body = batch.json()
    assert [r["status"] for r in body["results"]] == [s.status_code for s in singles] == [200, 403, 404, 404, 403]
    assert [r["uscc"] for r in body["results"]] == usccs and [r["index"] for r in body["results"]] == [0, 1, 2, 3, 4]
    assert (body["purpose"], body["scored"], body["refused"]) == ("pre_credit", 1, 4)
    for result, single in zip(body["results"][1:], singles[1:], strict=True):
        assert result["score"] is None
        assert result["problem"]["type"] == single.json()["type"]
    scored, single = body["results"][0]["score"], singles[0].json()
    assert {k: v for k, v in scored.items() if k not in ("id", "requested_at")} == {
        k: v for k, v in single.items() if k not in ("id", "requested_at")}
    assert stored_scores(db) == 2  # one from the batch, one from the single call
    read_back = client.get(f"/v1/scores/{scored['id']}", headers=bearer(scenario.bank_a_key))
    assert read_back.json()["id"] == scored["id"]


def test_the_purpose_asked_for_is_the_grant_checked(client: TestClient, scenario: Scenario, db: Session) -> None:
    monitored = add_enterprise(db).uscc
    add_profile(db, monitored, scenario.profile_as_of)
    add_authorisation(db, monitored, scenario.bank_a, purpose="post_loan")

    post_loan = client.post(URL, json={"purpose": "post_loan", "usccs": [scenario.uscc, monitored]},
                            headers=bearer(scenario.bank_a_key)).json()
    pre_credit = client.post(URL, json={"usccs": [scenario.uscc, monitored]},
                             headers=bearer(scenario.bank_a_key)).json()

    assert [r["status"] for r in post_loan["results"]] == [403, 200]
    assert [r["status"] for r in pre_credit["results"]] == [200, 403]
    assert "post-loan monitoring" in post_loan["results"][0]["problem"]["detail"]


def test_every_enterprise_is_audited_on_its_own(client: TestClient, scenario: Scenario, db: Session) -> None:
    stranger = add_enterprise(db).uscc

    client.post(URL, json={"usccs": [scenario.uscc, stranger]}, headers=bearer(scenario.bank_a_key))

    rows = db.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(r.action, r.uscc, r.outcome, r.http_status) for r in rows] == [
        ("score.create_batch_item", scenario.uscc, "allowed", 200),
        ("score.create_batch_item", stranger, "denied", 403),
        ("score.create_batch", None, "allowed", 200),
    ]
    assert len({r.request_id for r in rows}) == 1
    log = client.get("/v1/enterprise/access-log", headers=bearer(scenario.enterprise_key)).json()
    assert [(i["action"], i["bank_code"], i["authorisation_id"]) for i in log["items"]] == [
        ("score.create_batch_item", scenario.bank_a.code, scenario.grant.id)]


def test_bad_lists_are_refused_whole_naming_the_field(client: TestClient, scenario: Scenario, db: Session) -> None:
    headers = bearer(scenario.bank_a_key)
    answers = {
        "too_many": client.post(URL, json={"usccs": [new_uscc() for _ in range(MAX_BATCH_SCORES + 1)]},
                                headers=headers),
        "empty": client.post(URL, json={"usccs": []}, headers=headers),
        "twice": client.post(URL, json={"usccs": [scenario.uscc, scenario.uscc]}, headers=headers),
        "bad_uscc": client.post(URL, json={"usccs": [scenario.uscc, "91350100M000100Y4X"]}, headers=headers),
        "bad_purpose": client.post(URL, json={"purpose": "marketing", "usccs": [scenario.uscc]}, headers=headers),
    }

    fields = {name: (r.status_code, r.json()["errors"][0]["field"], r.json()["errors"][0]["rule"])
              for name, r in answers.items()}
    assert fields == {
        "too_many": (422, "usccs", "too_long"),
        "empty": (422, "usccs", "too_short"),
        "twice": (422, "usccs", "usccs.duplicate"),
        "bad_uscc": (422, "usccs.1", fields["bad_uscc"][2]),
        "bad_purpose": (422, "purpose", "literal_error"),
    }
    assert fields["bad_uscc"][2].startswith("uscc.")
    assert all(r.headers["content-type"] == "application/problem+json" for r in answers.values())
    assert stored_scores(db) == 0


def test_only_banks_may_ask(client: TestClient, scenario: Scenario) -> None:
    body = {"usccs": [scenario.uscc]}

    enterprise = client.post(URL, json=body, headers=bearer(scenario.enterprise_key))
    anonymous = client.post(URL, json=body)

    assert (enterprise.status_code, anonymous.status_code) == (403, 401)
