"""回传: loan reports by authorised banks only, validated by field and order, stored once per key, read back."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from api import schemas_loans
from api.db.models import AuditEvent, Loan, LoanEvent, utcnow
from api.loans import report_event
from api.schemas_loans import BUSINESS_TIMEZONE, LoanEventIn
from config.settings import Settings
from tests.api.factories import (
    Scenario,
    add_account,
    add_authorisation,
    add_enterprise,
    add_key,
    bearer,
    loan_event,
    new_uscc,
)

D0 = date(2026, 3, 1)


def url(loan_id: str = "LN-1") -> str:
    return f"/v1/loans/{loan_id}/events"


def report(client: TestClient, key: str, body: dict[str, Any], loan_id: str = "LN-1") -> Any:
    return client.post(url(loan_id), json=body, headers=bearer(key))


def count(db: Session, table: type[Loan] | type[LoanEvent]) -> int:
    db.expire_all()
    return int(db.scalar(select(func.count()).select_from(table)) or 0)


def report_lifecycle(client: TestClient, scenario: Scenario, *kinds: str) -> list[Any]:
    days = {"application": 0, "approval": 3, "disbursement": 5, "repayment": 35, "overdue": 70, "default": 200,
            "closure": 210}
    return [
        report(client, scenario.bank_a_key, loan_event(scenario.uscc, k, D0 + timedelta(days=days[k])))
        for k in kinds
    ]


def test_a_loan_life_is_stored_and_read_back(client: TestClient, scenario: Scenario, db: Session) -> None:
    responses = report_lifecycle(client, scenario, "application", "approval", "disbursement", "repayment", "overdue")

    assert [r.status_code for r in responses] == [201] * 5
    receipt = responses[2].json()
    assert receipt["type"] == "disbursement"
    assert (receipt["amount"], receipt["term_months"], receipt["annual_rate"], receipt["credit_type"]) == (
        500_000, 12, 0.0435, "credit")
    assert receipt["authorisation_id"] == scenario.grant.id
    assert receipt["request_id"] == responses[2].headers["x-request-id"]
    loan = client.get("/v1/loans/LN-1", headers=bearer(scenario.bank_a_key)).json()
    assert loan["uscc"] == scenario.uscc and loan["bank_code"] == scenario.bank_a.code
    assert [e["type"] for e in loan["events"]] == ["application", "approval", "disbursement", "repayment", "overdue"]
    assert loan["status"] == "overdue"
    assert loan["events"][4]["days_past_due"] == 35
    assert count(db, LoanEvent) == 5


def test_closure_closes_the_loan(client: TestClient, scenario: Scenario) -> None:
    report_lifecycle(client, scenario, "approval", "disbursement", "repayment", "closure")

    assert client.get("/v1/loans/LN-1", headers=bearer(scenario.bank_a_key)).json()["status"] == "closed"


@pytest.mark.parametrize("grant_state", ["none", "revoked", "expired"])
def test_a_bank_without_a_valid_grant_gets_403_and_nothing_is_stored(
    client: TestClient, scenario: Scenario, db: Session, grant_state: str
) -> None:
    now = utcnow()
    if grant_state == "revoked":
        add_authorisation(db, scenario.uscc, scenario.bank_b, revoked_at=now - timedelta(minutes=1))
    if grant_state == "expired":
        add_authorisation(db, scenario.uscc, scenario.bank_b, expires_at=now - timedelta(minutes=1))

    response = report(client, scenario.bank_b_key, loan_event(scenario.uscc, "application", D0))

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/not-authorised")
    assert (count(db, Loan), count(db, LoanEvent)) == (0, 0)


def test_a_post_loan_grant_also_lets_the_bank_report(client: TestClient, scenario: Scenario, db: Session) -> None:
    add_authorisation(db, scenario.uscc, scenario.bank_b, purpose="post_loan")

    assert report(client, scenario.bank_b_key, loan_event(scenario.uscc, "application", D0)).status_code == 201


def test_other_roles_and_anonymous_callers_are_refused(
    client: TestClient, scenario: Scenario, db: Session, settings: Settings
) -> None:
    operator_key = add_key(db, add_account(db, "operator"), settings)
    body = loan_event(scenario.uscc, "application", D0)

    statuses = [report(client, key, body).status_code for key in (scenario.enterprise_key, operator_key)]
    anonymous = client.post(url(), json=body)

    assert statuses == [403, 403]
    assert anonymous.status_code == 401
    assert count(db, LoanEvent) == 0


def test_an_unknown_enterprise_is_404(client: TestClient, scenario: Scenario) -> None:
    assert report(client, scenario.bank_a_key, loan_event(new_uscc(), "application", D0)).status_code == 404


@pytest.mark.parametrize(
    ("kind", "details", "field", "rule"),
    [
        ("repayment", {"amount": 0}, "amount", "greater_than"),
        ("repayment", {"amount": -5}, "amount", "greater_than"),
        ("disbursement", {"annual_rate": 0.5}, "annual_rate", "less_than_equal"),
        ("disbursement", {"annual_rate": 0}, "annual_rate", "greater_than"),
        ("disbursement", {"term_months": 0}, "term_months", "greater_than_equal"),
        ("disbursement", {"credit_type": "pawned"}, "credit_type", "literal_error"),
        ("overdue", {"days_past_due": 0}, "days_past_due", "greater_than_equal"),
        ("application", {"sequence": -1}, "sequence", "greater_than_equal"),
        ("application", {"type": "refinancing"}, "type", "literal_error"),
        ("application", {"uscc": "91350100M000100Y44"}, "uscc", "uscc.check_character"),
        ("application", {"event_date": "2026-02-30"}, "event_date", "date_from_datetime_parsing"),
        ("application", {"comment": "<script>"}, "comment", "extra_forbidden"),
        ("disbursement", {"term_months": None}, "term_months", "loan_event.required"),
        ("repayment", {"days_past_due": 3}, "days_past_due", "loan_event.not_allowed"),
        ("closure", {"amount": 10}, "amount", "loan_event.not_allowed"),
    ],
)
def test_bad_fields_are_422_naming_field_and_rule(
    client: TestClient, scenario: Scenario, db: Session, kind: str, details: dict[str, Any], field: str, rule: str
) -> None:
    body = loan_event(scenario.uscc, kind, D0, **details)
    if details.get(field, 1) is None:
        body.pop(field, None)

    response = report(client, scenario.bank_a_key, body)

    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("/validation")
    assert any(e["field"] == field and e["rule"].startswith(rule) for e in problem["errors"]), problem["errors"]
    assert count(db, LoanEvent) == 0


def test_a_future_date_is_422(client: TestClient, scenario: Scenario) -> None:
    tomorrow = utcnow().date() + timedelta(days=2)

    response = report(client, scenario.bank_a_key, loan_event(scenario.uscc, "application", tomorrow))

    assert response.status_code == 422
    assert response.json()["errors"][0] == {
        "field": "event_date", "rule": "date.in_future", "message": "the event date is in the future"}


@pytest.mark.parametrize(
    ("before", "kind", "offset", "field", "rule"),
    [
        ((), "disbursement", 5, "type", "loan_event.disbursement_before_approval"),
        (("approval",), "disbursement", 1, "type", "loan_event.disbursement_before_approval"),
        (("approval",), "repayment", 35, "type", "loan_event.before_disbursement"),
        (("approval",), "overdue", 70, "type", "loan_event.before_disbursement"),
        (("application",), "approval", -1, "event_date", "loan_event.before_application"),
        (("approval", "disbursement", "closure"), "repayment", 240, "event_date", "loan_event.after_closure"),
        (("approval", "disbursement", "repayment"), "closure", 20, "event_date", "loan_event.after_closure"),
        (("application", "approval"), "application", 1, "type", "loan_event.once"),
    ],
)
def test_events_out_of_order_are_422_and_not_stored(
    client: TestClient, scenario: Scenario, db: Session, before: tuple[str, ...], kind: str, offset: int,
    field: str, rule: str,
) -> None:
    report_lifecycle(client, scenario, *before)
    stored = count(db, LoanEvent)

    response = report(client, scenario.bank_a_key, loan_event(scenario.uscc, kind, D0 + timedelta(days=offset)))

    assert response.status_code == 422
    assert (field, rule) in [(e["field"], e["rule"]) for e in response.json()["errors"]]
    assert count(db, LoanEvent) == stored


def test_a_rejected_first_event_leaves_no_loan(client: TestClient, scenario: Scenario, db: Session) -> None:
    report(client, scenario.bank_a_key, loan_event(scenario.uscc, "repayment", D0))

    assert count(db, Loan) == 0


def test_the_same_event_twice_is_stored_once_and_returned(client: TestClient, scenario: Scenario, db: Session) -> None:
    body = loan_event(scenario.uscc, "application", D0)

    first = report(client, scenario.bank_a_key, body)
    again = report(client, scenario.bank_a_key, body)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()  # the stored receipt, request id of the first report included
    assert count(db, LoanEvent) == 1


def test_another_payload_under_the_same_key_is_409(client: TestClient, scenario: Scenario, db: Session) -> None:
    report_lifecycle(client, scenario, "approval", "disbursement")
    day = D0 + timedelta(days=35)
    report(client, scenario.bank_a_key, loan_event(scenario.uscc, "repayment", day, amount=43_000))

    clash = report(client, scenario.bank_a_key, loan_event(scenario.uscc, "repayment", day, amount=44_000))
    second = report(client, scenario.bank_a_key, loan_event(scenario.uscc, "repayment", day, amount=44_000, sequence=1))

    assert clash.status_code == 409
    assert clash.json()["type"].endswith("/conflict")
    assert second.status_code == 201
    assert count(db, LoanEvent) == 4


def test_a_loan_id_names_one_enterprise(client: TestClient, scenario: Scenario, db: Session) -> None:
    other = add_enterprise(db)
    add_authorisation(db, other.uscc, scenario.bank_a)
    report(client, scenario.bank_a_key, loan_event(scenario.uscc, "application", D0))

    response = report(client, scenario.bank_a_key, loan_event(other.uscc, "application", D0))

    assert response.status_code == 409
    assert count(db, Loan) == 1


def test_loan_ids_are_per_bank(client: TestClient, scenario: Scenario, db: Session) -> None:
    add_authorisation(db, scenario.uscc, scenario.bank_b)
    body = loan_event(scenario.uscc, "application", D0)

    a, b = report(client, scenario.bank_a_key, body), report(client, scenario.bank_b_key, body)

    assert (a.status_code, b.status_code) == (201, 201)
    assert count(db, Loan) == 2


@pytest.mark.parametrize("existing_loan", [False, True])
def test_identical_reports_at_the_same_moment_are_stored_once(
    client: TestClient, scenario: Scenario, db: Session, existing_loan: bool
) -> None:
    if existing_loan:
        report_lifecycle(client, scenario, "application")
    body = loan_event(scenario.uscc, "approval", D0 + timedelta(days=3))
    start = threading.Barrier(6)
    results: list[Any] = []

    def send() -> None:
        start.wait()
        results.append(report(client, scenario.bank_a_key, body))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r.status_code for r in results) == [200] * 5 + [201]
    assert len({r.json()["id"] for r in results}) == 1
    assert count(db, LoanEvent) == (2 if existing_loan else 1)
    assert count(db, Loan) == 1


def test_only_the_reporting_bank_reads_a_loan(client: TestClient, scenario: Scenario, db: Session) -> None:
    report_lifecycle(client, scenario, "application")
    add_authorisation(db, scenario.uscc, scenario.bank_b)

    other_bank = client.get("/v1/loans/LN-1", headers=bearer(scenario.bank_b_key))
    enterprise = client.get("/v1/loans/LN-1", headers=bearer(scenario.enterprise_key))
    unknown = client.get("/v1/loans/LN-404", headers=bearer(scenario.bank_a_key))

    assert (other_bank.status_code, enterprise.status_code, unknown.status_code) == (404, 403, 404)


def test_reports_and_reads_are_audited(client: TestClient, scenario: Scenario, db: Session) -> None:
    report_lifecycle(client, scenario, "application")
    report_lifecycle(client, scenario, "application")
    client.get("/v1/loans/LN-1", headers=bearer(scenario.bank_a_key))
    report(client, scenario.bank_b_key, loan_event(scenario.uscc, "application", D0))

    rows = db.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()

    assert [(r.action, r.outcome, r.http_status, r.uscc) for r in rows] == [
        ("loan.report", "allowed", 201, scenario.uscc),
        ("loan.report", "allowed", 200, scenario.uscc),
        ("loan.read", "allowed", 200, scenario.uscc),
        ("loan.report", "denied", 403, scenario.uscc),
    ]
    assert rows[0].detail is not None and rows[0].detail.endswith("stored")
    assert rows[1].detail is not None and rows[1].detail.endswith("replayed")


def test_report_event_from_separate_connections_at_once_stores_one_row(
    engine: Engine, scenario: Scenario, db: Session
) -> None:
    """The same race below HTTP: each thread its own session and connection, released together."""
    account = add_account(db, "bank", bank=scenario.bank_a)
    body = LoanEventIn.model_validate(loan_event(scenario.uscc, "application", D0))
    start = threading.Barrier(4)
    outcomes: list[tuple[int, bool]] = []
    failures: list[BaseException] = []

    def store(n: int) -> None:
        try:
            with Session(engine, expire_on_commit=False) as session:
                start.wait()
                stored = report_event(session, bank_id=scenario.bank_a.id, bank_loan_id="LN-RACE", body=body,
                                      account_id=account.id, authorisation_id=scenario.grant.id,
                                      request_id=f"race-{n}")
                outcomes.append((stored.event.id, stored.created))
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=store, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert len({event_id for event_id, _ in outcomes}) == 1
    assert sorted(created for _, created in outcomes) == [False, False, False, True]
    assert (count(db, Loan), count(db, LoanEvent)) == (1, 1)


@pytest.mark.parametrize("loan_id", ["LN%201", "x" * 65, "LN;DROP"])
def test_a_malformed_loan_id_is_422(client: TestClient, scenario: Scenario, db: Session, loan_id: str) -> None:
    response = report(client, scenario.bank_a_key, loan_event(scenario.uscc, "application", D0), loan_id=loan_id)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "bank_loan_id"
    assert count(db, Loan) == 0


def test_today_means_today_in_beijing(monkeypatch: pytest.MonkeyPatch) -> None:
    """At 01:00 in Beijing on 1 March it is still 28 February in UTC: an event of 1 March is not in the future."""

    class AtOneInTheMorning(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> AtOneInTheMorning:
            moment = cls(2026, 3, 1, 1, 0, tzinfo=BUSINESS_TIMEZONE)
            return moment.astimezone(tz) if tz else moment  # type: ignore[return-value]

    monkeypatch.setattr(schemas_loans, "datetime", AtOneInTheMorning)
    uscc = new_uscc()

    accepted = LoanEventIn.model_validate(loan_event(uscc, "application", date(2026, 3, 1)))
    with pytest.raises(ValidationError) as refused:
        LoanEventIn.model_validate(loan_event(uscc, "application", date(2026, 3, 2)))

    assert accepted.event_date == date(2026, 3, 1)
    assert refused.value.errors()[0]["type"] == "date.in_future"


def test_two_payloads_under_one_key_at_once_store_one_and_refuse_the_other(
    client: TestClient, scenario: Scenario, db: Session
) -> None:
    report_lifecycle(client, scenario, "approval", "disbursement")
    day = D0 + timedelta(days=35)
    bodies = [loan_event(scenario.uscc, "repayment", day, amount=amount) for amount in (43_000, 43_000, 44_000, 44_000)]
    start = threading.Barrier(len(bodies))
    results: list[tuple[float, Any]] = []

    def send(body: dict[str, Any]) -> None:
        start.wait()
        results.append((body["amount"], report(client, scenario.bank_a_key, body)))

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    db.expire_all()
    stored = db.scalars(select(LoanEvent).where(LoanEvent.event_type == "repayment")).one()
    statuses = sorted((amount, r.status_code) for amount, r in results)
    winner = [s for a, s in statuses if a == stored.amount]
    assert sorted(winner) == [200, 201]
    assert [s for a, s in statuses if a != stored.amount] == [409, 409]
