"""Every /v1 answer, allowed, refused or withheld, carries the API's security headers; probes need none."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.headers import API_SECURITY_HEADERS
from tests.api.factories import Scenario, bearer

EXPECTED = {name.decode(): value.decode() for name, value in API_SECURITY_HEADERS}


def _carries_all(response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, name


@pytest.mark.parametrize("with_key", [True, False], ids=["allowed", "refused"])
def test_api_answers_carry_the_security_headers(client: TestClient, scenario: Scenario, with_key: bool) -> None:
    headers = bearer(scenario.enterprise_key) if with_key else {}
    response = client.get("/v1/enterprise/authorisations", headers=headers)
    assert response.status_code == (200 if with_key else 401)
    _carries_all(response)
    assert response.headers["cache-control"] == "no-store"  # once, not doubled


def test_validation_errors_carry_them_too(client: TestClient, scenario: Scenario) -> None:
    response = client.post("/v1/scores", json={"uscc": "<script>"}, headers=bearer(scenario.bank_a_key))
    assert response.status_code == 422
    _carries_all(response)


def test_health_probe_is_left_alone(client: TestClient) -> None:
    assert "x-frame-options" not in client.get("/healthz").headers
