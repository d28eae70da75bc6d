"""防暴力破解: failed key presentations lock out the key id and the address, even for the right secret."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.app import create_app
from api.db.models import AuditEvent
from api.security import KeyVerifier
from api.throttle import FailedKeyThrottle, KeyLockedOut
from config.settings import Settings
from tests.api.factories import FakeScorer, Scenario, add_account, add_key, bearer


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def throttle(clock: Clock) -> FailedKeyThrottle:
    return FailedKeyThrottle(limit=3, address_limit=5, window_seconds=60, lockout_seconds=300, clock=clock)


def test_a_key_id_is_locked_after_the_limit_and_released_after_the_lockout() -> None:
    clock = Clock()
    t = throttle(clock)
    for _ in range(2):
        assert t.record_failure("k1", None) is False
    assert t.record_failure("k1", None) is True

    with pytest.raises(KeyLockedOut) as locked:
        t.check("k1", "10.0.0.1")
    assert locked.value.retry_after_seconds == 300
    assert locked.value.headers == {"Retry-After": "300"}
    clock.now += 299.5
    with pytest.raises(KeyLockedOut) as still:
        t.check("k1", None)
    assert still.value.retry_after_seconds == 1
    clock.now += 0.5
    t.check("k1", None)  # released
    t.check("k2", None)  # another key id was never locked


def test_failures_outside_the_window_do_not_count() -> None:
    clock = Clock()
    t = throttle(clock)
    t.record_failure("k1", None)
    t.record_failure("k1", None)
    clock.now += 61

    assert t.record_failure("k1", None) is False
    t.check("k1", None)


def test_a_success_clears_the_key_ids_failures() -> None:
    clock = Clock()
    t = throttle(clock)
    t.record_failure("k1", None)
    t.record_failure("k1", None)
    t.record_success("k1")

    assert t.record_failure("k1", None) is False


def test_an_address_is_locked_across_key_ids() -> None:
    clock = Clock()
    t = throttle(clock)
    for n in range(5):
        t.record_failure(f"guess{n}", "10.0.0.9")

    with pytest.raises(KeyLockedOut):
        t.check("someone-else", "10.0.0.9")
    t.check("someone-else", "10.0.0.10")


def test_the_verifier_refuses_the_right_secret_while_locked(db: Session, settings: Settings) -> None:
    clock = Clock()
    key = add_key(db, add_account(db, "regulator"), settings)
    verifier = KeyVerifier(settings, throttle(clock))
    wrong = key[:-4] + "AAAA"
    for _ in range(3):
        with pytest.raises(Exception, match="does not match"):
            verifier.verify(db, wrong, "10.0.0.1")

    with pytest.raises(KeyLockedOut):
        verifier.verify(db, key, "10.0.0.2")
    clock.now += 301
    assert verifier.verify(db, key, "10.0.0.2").role == "regulator"


@pytest.fixture
def strict_client(settings: Settings, engine: object) -> TestClient:
    """The app with a limit of three failures per key id."""
    app = create_app(settings.model_copy(update={"key_failure_limit": 3}), score_provider=FakeScorer())
    return TestClient(app)


def test_over_http_the_lockout_is_429_with_retry_after_and_audited(
    strict_client: TestClient, scenario: Scenario, db: Session
) -> None:
    wrong = scenario.bank_a_key[:-4] + "AAAA"
    body = {"uscc": scenario.uscc}
    with strict_client as client:
        failures = [client.post("/v1/scores", json=body, headers=bearer(wrong)).status_code for _ in range(3)]
        locked = client.post("/v1/scores", json=body, headers=bearer(scenario.bank_a_key))
        other_bank = client.post("/v1/scores", json=body, headers=bearer(scenario.bank_b_key))

    assert failures == [401, 401, 401]
    assert locked.status_code == 429
    assert locked.headers["content-type"] == "application/problem+json"
    assert int(locked.headers["retry-after"]) == 900
    assert locked.json()["type"].endswith("/too-many-failed-keys")
    assert other_bank.status_code == 403  # another key id from the same address is not locked (limit 20)
    rows = db.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [(r.http_status, r.detail) for r in rows[-2:]] == [(429, "too-many-failed-keys"), (403, "not-authorised")]
