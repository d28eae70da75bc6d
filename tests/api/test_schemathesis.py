"""schemathesis against the ASGI app, as a bank and as an enterprise, positive and negative cases: no server
error, and every answer conforms to the OpenAPI document (status, content type, headers, body schema, negative
data refused). A light run of bench/api_fuzz.py's runner, which the bench drives at ≥ 1,000 cases per operation."""

from __future__ import annotations

import pytest

from api.app import create_app
from bench.api_fuzz import fuzz
from config.settings import Settings
from tests.api.factories import FakeScorer, Scenario, bearer

CASES_PER_OPERATION = 10


@pytest.mark.slow
def test_no_operation_answers_a_server_error_or_off_the_document(
    engine: object, scenario: Scenario, settings: Settings
) -> None:
    # schemathesis also sends wrong keys on purpose: the lockout after failed keys would answer 429 to the rest
    lenient = settings.model_copy(update={"key_failure_limit": 10**9, "key_failure_address_limit": 10**9})
    app = create_app(lenient, score_provider=FakeScorer())
    callers = {"bank": bearer(scenario.bank_a_key), "enterprise": bearer(scenario.enterprise_key)}

    reports = fuzz(app, callers, CASES_PER_OPERATION)

    assert len(reports) >= 30
    assert all(r.cases >= 1 and r.calls == r.cases for r in reports)
    assert {r.label: r.failures for r in reports if r.failures} == {}
