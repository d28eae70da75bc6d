"""Per-bank token buckets: refill by the clock, 429 with Retry-After once empty, batches count each enterprise."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.models import ScoreResponse
from api.ratelimit import TokenBuckets
from tests.api.factories import Scenario, add_account, add_authorisation, add_enterprise, add_key, add_profile, bearer
from tests.api.test_metrics import sample


class FakeClock:
    """Seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_refills_at_the_rate_up_to_the_burst() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)

    first = [buckets.take(1).allowed for _ in range(4)]
    empty = buckets.take(1)
    clock.now += 0.5  # one token back
    after_half_second = [buckets.take(1).allowed for _ in range(2)]
    clock.now += 60  # long idle: back to the burst, not beyond
    after_idle = [buckets.take(1).allowed for _ in range(4)]

    assert first == [True, True, True, False]
    assert (empty.allowed, empty.retry_after_seconds) == (False, 1)
    assert after_half_second == [True, False]
    assert after_idle == [True, True, True, False]


def test_costs_are_taken_whole_or_not_at_all_and_keys_are_apart() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(rate=0.5, burst=10, clock=clock)

    assert buckets.take(1, 8).allowed
    refused = buckets.take(1, 5)  # 2 left: nothing taken
    assert (refused.allowed, refused.retry_after_seconds) == (False, 6)  # 3 missing at 0.5/s
    assert buckets.take(1, 2).allowed
    assert buckets.take(2, 10).allowed  # another bank's bucket is full


def test_rate_zero_means_no_limit() -> None:
    buckets = TokenBuckets(rate=0, burst=1, clock=FakeClock())

    assert all(buckets.take(1, 50).allowed for _ in range(100))


def test_full_buckets_are_forgotten_when_there_are_too_many_keys() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(rate=1.0, burst=2, clock=clock, max_keys=3)
    for key in range(3):
        buckets.take(key)
    clock.now += 10  # all refilled

    buckets.take(99)

    assert set(buckets._buckets) == {99}


def limited(app: FastAPI, rate: float, burst: int) -> FakeClock:
    clock = FakeClock()
    app.state.rate_limits = TokenBuckets(rate, burst, clock=clock)
    return clock


def test_an_empty_bucket_answers_429_problem_with_retry_after(
    app: FastAPI, client: TestClient, scenario: Scenario, db: Session
) -> None:
    clock = limited(app, rate=1.0, burst=2)
    body, headers = {"uscc": scenario.uscc}, bearer(scenario.bank_a_key)

    statuses = [client.post("/v1/scores", json=body, headers=headers).status_code for _ in range(2)]
    refused = client.post("/v1/scores", json=body, headers=headers)
    other_bank = client.post("/v1/scores", json=body, headers=bearer(scenario.bank_b_key))
    clock.now += 1.0
    again = client.post("/v1/scores", json=body, headers=headers)

    assert statuses == [200, 200]
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/rate-limited")
    assert other_bank.status_code == 403  # its own bucket: refused for want of a grant, not for rate
    assert again.status_code == 200
    assert db.scalar(select(func.count()).select_from(ScoreResponse)) == 3
    assert sample(client, "xinyi_rate_limited_requests_total") == 1.0


def test_a_batch_takes_one_token_per_enterprise(
    app: FastAPI, client: TestClient, scenario: Scenario, db: Session
) -> None:
    clock = limited(app, rate=1.0, burst=5)
    second = add_enterprise(db).uscc
    add_profile(db, second, scenario.profile_as_of)
    add_authorisation(db, second, scenario.bank_a)
    third = add_enterprise(db).uscc
    batch, headers = {"usccs": [scenario.uscc, second, third]}, bearer(scenario.bank_a_key)

    first = client.post("/v1/scores/batch", json=batch, headers=headers)
    refused = client.post("/v1/scores/batch", json=batch, headers=headers)  # 2 tokens left, 3 needed
    clock.now += 2.0
    later = client.post("/v1/scores/batch", json=batch, headers=headers)

    assert (first.status_code, refused.status_code, later.status_code) == (200, 429, 200)
    assert refused.headers["retry-after"] == "1"  # the call itself took one of the two; one more is missing


def test_only_bank_requests_are_limited(app: FastAPI, client: TestClient, scenario: Scenario, db: Session) -> None:
    limited(app, rate=1.0, burst=1)
    operator_key = add_key(db, add_account(db, "operator"), app.state.settings)

    enterprise = [client.get("/v1/enterprise/authorisations", headers=bearer(scenario.enterprise_key)).status_code
                  for _ in range(3)]
    operator = [client.get("/v1/reviews", headers=bearer(operator_key)).status_code for _ in range(3)]

    assert enterprise == [200, 200, 200] and operator == [200, 200, 200]
