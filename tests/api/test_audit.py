"""访问留痕: one audit row per /v1 request of every kind, and never a key in rows or logs."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api.app import create_app
from api.audit import AuditMiddleware, record_in
from api.db.models import AuditEvent
from api.db.session import make_sessionmaker
from api.security import parse_key
from config.settings import Settings
from tests.api.factories import (
    ExplodingScorer,
    Scenario,
    add_authorisation,
    add_enterprise,
    add_profile,
    bearer,
    new_uscc,
)


def events(db: Session) -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_one_row_per_request_of_each_kind(client: TestClient, scenario: Scenario, db: Session) -> None:
    calls = [
        (lambda: client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key)), 200),
        (lambda: client.post("/v1/scores", json={"uscc": scenario.uscc}), 401),
        (lambda: client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_b_key)), 403),
        (
            lambda: client.post("/v1/scores", json={"uscc": "91350100M000100Y4I"}, headers=bearer(scenario.bank_a_key)),
            422,
        ),
        (lambda: client.post("/v1/scores", json={"uscc": new_uscc()}, headers=bearer(scenario.bank_a_key)), 404),
        (lambda: client.get("/v1/enterprise/authorisations", headers=bearer(scenario.enterprise_key)), 200),
        (lambda: client.get("/v1/no-such-thing", headers=bearer(scenario.bank_a_key)), 404),
    ]
    for call, expected in calls:
        before = len(events(db))
        assert call().status_code == expected
        assert len(events(db)) == before + 1

    rows = events(db)
    assert [(r.http_status, r.outcome) for r in rows] == [
        (200, "allowed"),
        (401, "denied"),
        (403, "denied"),
        (422, "error"),
        (404, "error"),
        (200, "allowed"),
        (404, "error"),
    ]
    assert [r.action for r in rows] == ["score.create"] * 5 + ["authorisation.list", "unmatched"]
    assert rows[0].actor_role == "bank"
    assert rows[0].actor_account_id is not None
    assert rows[0].uscc == scenario.uscc
    assert (rows[1].actor_role, rows[1].actor_account_id) == ("anonymous", None)
    assert rows[2].uscc == scenario.uscc
    assert rows[2].detail == "not-authorised"
    assert rows[3].uscc is None
    assert rows[3].detail == "validation: uscc:uscc.charset"
    assert rows[5].actor_role == "enterprise"
    assert rows[5].uscc == scenario.uscc


def test_health_probes_are_not_audited(client: TestClient, db: Session) -> None:
    client.get("/healthz")
    client.get("/readyz")

    assert events(db) == []


def test_request_id_is_returned_and_recorded(client: TestClient, scenario: Scenario, db: Session) -> None:
    response = client.get(
        "/v1/enterprise/authorisations", headers={**bearer(scenario.enterprise_key), "X-Request-ID": "abc-123"}
    )

    assert response.headers["x-request-id"] == "abc-123"
    assert events(db)[-1].request_id == "abc-123"


def test_unhandled_error_is_audited_as_500(settings: Settings, engine: object, db: Session) -> None:
    scenario_db_enterprise = add_enterprise(db)
    from tests.api.factories import add_account, add_bank, add_key

    bank = add_bank(db)
    key = add_key(db, add_account(db, "bank", bank=bank), settings)
    add_authorisation(db, scenario_db_enterprise.uscc, bank)
    add_profile(db, scenario_db_enterprise.uscc, date(2026, 3, 31))
    with TestClient(create_app(settings, ExplodingScorer()), raise_server_exceptions=False) as client:
        response = client.post("/v1/scores", json={"uscc": scenario_db_enterprise.uscc}, headers=bearer(key))

    assert response.status_code == 500
    row = events(db)[-1]
    assert (row.http_status, row.outcome, row.action) == (500, "error", "score.create")


def test_secrets_appear_in_no_audit_row_and_no_log(
    client: TestClient, scenario: Scenario, db: Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = scenario.bank_b_key[:-3] + "QQQ"
    client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key))
    client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_b_key))
    client.post("/v1/scores", json={"uscc": scenario.uscc}, headers={"X-API-Key": wrong})
    client.delete(f"/v1/enterprise/authorisations/{scenario.grant.id}", headers=bearer(scenario.enterprise_key))

    secrets = [parse_key(k).secret for k in (scenario.bank_a_key, scenario.bank_b_key, scenario.enterprise_key)]
    secrets.append(parse_key(wrong).secret)
    rows = events(db)
    assert len(rows) == 4
    dumped = [" ".join(str(getattr(r, c.key)) for c in AuditEvent.__table__.columns) for r in rows]
    logged = [record.getMessage() + str(record.args) for record in caplog.records]
    for secret in secrets:
        assert all(secret not in text for text in dumped)
        assert all(secret not in text for text in logged)


def test_an_answer_whose_access_cannot_be_recorded_is_withheld(
    client: TestClient, scenario: Scenario, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    import api.audit
    from api.problem_json import PROBLEM_BASE

    def unavailable(*_: object) -> None:
        raise RuntimeError("database gone")

    before = len(events(db))
    monkeypatch.setattr(api.audit, "write_event", unavailable)
    response = client.get("/v1/enterprise/authorisations", headers=bearer(scenario.enterprise_key))

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    problem = response.json()
    assert problem["type"] == PROBLEM_BASE + "audit-unavailable"
    assert set(problem) == {"type", "title", "status", "detail", "instance", "request_id"}  # no grant data
    assert len(events(db)) == before
    assert client.get("/healthz").status_code == 200  # unaudited probes still answer
    monkeypatch.undo()
    assert client.get("/v1/enterprise/authorisations", headers=bearer(scenario.enterprise_key)).status_code == 200


def test_a_score_and_its_audit_row_commit_together_or_not_at_all(
    app: FastAPI, scenario: Scenario, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    import api.audit_chain
    from api.db.models import ScoreResponse

    client = TestClient(app, raise_server_exceptions=False)

    def no_chain(*_: object) -> None:
        raise RuntimeError("audit chain unavailable")

    ok = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key))
    assert ok.status_code == 200
    row = events(db)[-1]
    assert (row.request_id, row.action, row.http_status) == (ok.headers["x-request-id"], "score.create", 200)

    monkeypatch.setattr(api.audit_chain, "compute_row_hash", no_chain)  # every append chains through it
    refused = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key))

    assert refused.status_code == 500  # the commit failed: neither the score nor any audit row was stored
    assert "probability_of_default" not in refused.text
    db.expire_all()
    assert [str(s.id) for s in db.scalars(select(ScoreResponse))] == [ok.json()["id"]]
    assert len(events(db)) == 1


def test_a_recorded_row_is_not_doubled_but_a_changed_status_is_recorded_again(engine: Engine, db: Session) -> None:
    app = FastAPI()
    app.state.sessionmaker = make_sessionmaker(engine)
    app.add_middleware(AuditMiddleware)

    def answer(request: Request, status: int) -> Response:
        with app.state.sessionmaker() as session:
            record_in(session, request, 200)
            session.commit()
        return Response(status_code=status)

    @app.get("/v1/as-recorded", name="test.as_recorded")
    def as_recorded(request: Request) -> Response:
        return answer(request, 200)

    @app.get("/v1/changed", name="test.changed")
    def changed(request: Request) -> Response:
        return answer(request, 202)

    with TestClient(app) as client:
        assert client.get("/v1/as-recorded").status_code == 200
        assert [(r.action, r.http_status) for r in events(db)] == [("test.as_recorded", 200)]
        assert client.get("/v1/changed").status_code == 202

    rows = events(db)
    assert [(r.action, r.http_status) for r in rows[1:]] == [("test.changed", 200), ("test.changed", 202)]
    assert rows[1].request_id == rows[2].request_id
