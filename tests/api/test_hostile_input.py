"""Hostile input: oversized bodies are refused before any handler reads them, SQL and script fragments are
either refused naming the field or stored verbatim as data, and nothing is echoed as markup."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.body_limit import BODY_TOO_LARGE_TYPE
from api.db.models import Loan, LoanEvent, Objection, ScoreResponse
from config.settings import Settings
from tests.api.conftest import TEST_SECRET
from tests.api.factories import Scenario, bearer, loan_event

LIMIT = 4096
OBJECTIONS = "/v1/enterprise/objections"
SQL_FRAGMENTS = ("'); DROP TABLE objections; --", "1' OR '1'='1", "\" OR \"\"=\"", "x'; DELETE FROM audit_events; --")


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The test settings with a small body limit, so an oversized body is cheap to send."""
    return Settings(env="test", secret_key=SecretStr(TEST_SECRET), database_url=database_url, max_request_bytes=LIMIT)


def _count(db: Session, table: type[Objection] | type[ScoreResponse] | type[Loan] | type[LoanEvent]) -> int:
    db.expire_all()
    return int(db.scalar(select(func.count()).select_from(table)) or 0)


def _is_too_large(response: object) -> None:
    body = response.json()  # type: ignore[attr-defined]
    assert response.status_code == 413  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    assert body["type"] == BODY_TOO_LARGE_TYPE
    assert body["errors"] == [{"field": "body", "rule": "body.max_bytes", "message": f"at most {LIMIT} bytes"}]


def test_a_declared_oversized_body_is_413_and_nothing_is_stored(
    client: TestClient, scenario: Scenario, db: Session
) -> None:
    padded = {"source": "registration", "record_key": "REG-1", "reason": "成立日期登记有误。" * 1000}

    response = client.post(OBJECTIONS, json=padded, headers=bearer(scenario.enterprise_key))

    _is_too_large(response)
    assert response.headers["x-content-type-options"] == "nosniff"  # still inside the API's header guard
    assert _count(db, Objection) == 0


def test_a_streamed_oversized_body_is_413_and_nothing_is_stored(
    client: TestClient, scenario: Scenario, db: Session
) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count what arrives
        yield b'{"uscc": "' + scenario.uscc.encode() + b'", "purpose": "pre_credit", "note": "'
        for _ in range(20):
            yield b"x" * 512
        yield b'"}'

    response = client.post("/v1/scores", content=chunks(),
                           headers={**bearer(scenario.bank_a_key), "content-type": "application/json"})

    _is_too_large(response)
    assert _count(db, ScoreResponse) == 0


def test_a_body_under_the_limit_is_served(client: TestClient, scenario: Scenario) -> None:
    response = client.post(OBJECTIONS, json={"source": "registration", "record_key": "REG-1",
                                            "reason": "成立日期登记有误,应为2018年。"},
                           headers=bearer(scenario.enterprise_key))
    assert response.status_code == 201


@pytest.mark.parametrize("fragment", SQL_FRAGMENTS)
def test_sql_in_free_text_is_stored_verbatim_as_data(
    client: TestClient, scenario: Scenario, db: Session, fragment: str
) -> None:
    body = {"source": "registration", "record_key": fragment[:100], "reason": f"异议理由 {fragment}"}

    created = client.post(OBJECTIONS, json=body, headers=bearer(scenario.enterprise_key))
    listed = client.get(OBJECTIONS, headers=bearer(scenario.enterprise_key))

    assert created.status_code == 201
    assert [(o["record_key"], o["reason"]) for o in listed.json()] == [(body["record_key"], body["reason"])]
    db.expire_all()
    stored = db.scalars(select(Objection)).all()
    assert [(o.record_key, o.reason) for o in stored] == [(body["record_key"], body["reason"])]


@pytest.mark.parametrize("fragment", SQL_FRAGMENTS)
def test_sql_in_a_uscc_or_loan_id_is_refused_naming_the_field(
    client: TestClient, scenario: Scenario, db: Session, fragment: str
) -> None:
    score = client.post("/v1/scores", json={"uscc": fragment, "purpose": "pre_credit"},
                        headers=bearer(scenario.bank_a_key))
    loan = client.post(f"/v1/loans/{fragment}/events",
                       json=loan_event(scenario.uscc, "application", date(2026, 3, 1)),
                       headers=bearer(scenario.bank_a_key))
    read_back = client.get(f"/v1/scores/{fragment}", headers=bearer(scenario.bank_a_key))

    assert score.status_code == 422 and score.json()["errors"][0]["field"] == "uscc"
    assert loan.status_code in (404, 422)  # a quote or space cannot be part of a loan id; '/' leaves the route
    assert read_back.status_code in (404, 422)
    assert (_count(db, ScoreResponse), _count(db, Loan), _count(db, LoanEvent)) == (0, 0, 0)


def test_script_fragments_are_never_echoed_as_markup(client: TestClient, scenario: Scenario) -> None:
    script = "<script>alert(1)</script>"
    responses = [
        client.post("/v1/scores", json={"uscc": script, "purpose": "pre_credit"}, headers=bearer(scenario.bank_a_key)),
        client.post(OBJECTIONS, json={"source": script, "record_key": "k", "reason": "理由理由理由"},
                    headers=bearer(scenario.enterprise_key)),
        client.get(f"/v1/scores/{script}", headers=bearer(scenario.bank_a_key)),
    ]
    for response in responses:
        assert 400 <= response.status_code < 500
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "<script>" not in response.text
