"""/metrics: requests by route template, latency, scores by grade and decision, the model, rate-limited count;
never a USCC or a key, never audited."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.models import AuditEvent
from tests.api.factories import Scenario, add_enterprise, bearer


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, by name and sorted labels."""
    text = client.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(client: TestClient, metric: str, **labels: str) -> float | None:
    """One sample's value, or None when it is absent."""
    return samples(client).get((metric, tuple(sorted(labels.items()))))


def test_requests_are_counted_by_route_template_method_and_status(
    client: TestClient, scenario: Scenario, db: Session
) -> None:
    headers = bearer(scenario.bank_a_key)
    score_id = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=headers).json()["id"]
    client.get(f"/v1/scores/{score_id}", headers=headers)
    client.get(f"/v1/scores/{score_id}", headers=headers)
    client.post("/v1/scores", json={"uscc": add_enterprise(db).uscc}, headers=headers)  # no grant
    client.get("/no/such/path")

    found = samples(client)

    def count(route: str, method: str, status: str) -> float | None:
        return found.get(("xinyi_http_requests_total", (("method", method), ("route", route), ("status", status))))

    assert count("/v1/scores", "POST", "200") == 1.0
    assert count("/v1/scores", "POST", "403") == 1.0
    assert count("/v1/scores/{score_id}", "GET", "200") == 2.0
    assert count("unmatched", "GET", "404") == 1.0
    latency = ("xinyi_http_request_duration_seconds_count", (("method", "GET"), ("route", "/v1/scores/{score_id}")))
    assert found[latency] == 2.0


def test_scores_are_counted_by_grade_and_decision_and_the_model_is_named(
    client: TestClient, scenario: Scenario
) -> None:
    headers = bearer(scenario.bank_a_key)
    given = [client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=headers).json() for _ in range(2)]
    client.post("/v1/scores/batch", json={"usccs": [scenario.uscc]}, headers=headers)

    grade, decision = given[0]["grade"], given[0]["decision"]
    assert sample(client, "xinyi_scores_total", grade=grade, decision=decision) == 3.0
    assert sample(client, "xinyi_model_info", name="fake_pd", version="7") == 1.0


def test_metrics_name_no_enterprise_no_key_and_are_not_audited(
    client: TestClient, scenario: Scenario, db: Session
) -> None:
    headers = bearer(scenario.bank_a_key)
    score_id = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=headers).json()["id"]
    client.get(f"/v1/scores/{score_id}", headers=headers)
    audited_before = db.scalar(select(func.count()).select_from(AuditEvent))

    response = client.get("/metrics")

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    for secret in (scenario.uscc, score_id, scenario.bank_a_key, scenario.bank_a_key.split("_")[1]):
        assert secret not in response.text
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == audited_before
