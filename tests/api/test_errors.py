"""Errors render once as RFC 9457 problem+json; validation names each field; 500s echo nothing."""

from __future__ import annotations

from datetime import date

import anyio
import anyio.to_thread
import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.app import create_app
from config.settings import Settings
from tests.api.factories import (
    ExplodingScorer,
    Scenario,
    add_account,
    add_authorisation,
    add_bank,
    add_enterprise,
    add_key,
    add_profile,
    bearer,
)

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def test_malformed_json_is_a_422_problem(client: TestClient, scenario: Scenario) -> None:
    response = client.post(
        "/v1/scores",
        content=b'{"uscc": ',
        headers={**bearer(scenario.bank_a_key), "Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_KEYS
    assert body["type"] == "https://xinyi.example/problems/validation"
    assert body["instance"] == "/v1/scores"
    assert body["errors"][0]["rule"] == "json_invalid"


def test_missing_and_extra_fields_are_each_named(client: TestClient, scenario: Scenario) -> None:
    missing = client.post("/v1/scores", json={}, headers=bearer(scenario.bank_a_key)).json()
    extra = client.post("/v1/scores", json={"uscc": scenario.uscc, "x": 1}, headers=bearer(scenario.bank_a_key)).json()

    assert missing["errors"][0]["field"] == "uscc"
    assert missing["errors"][0]["rule"] == "missing"
    assert extra["errors"][0]["field"] == "x"
    assert extra["errors"][0]["rule"] == "extra_forbidden"


def test_each_uscc_rule_is_named(client: TestClient, scenario: Scenario) -> None:
    cases = {
        "123": "uscc.length",
        "91350100M000100Y4I": "uscc.charset",
        "21350100M000100Y43": "uscc.department",
        "9135A100M000100Y43": "uscc.region",
    }
    for code, rule in cases.items():
        body = client.post("/v1/scores", json={"uscc": code}, headers=bearer(scenario.bank_a_key)).json()
        assert body["errors"][0] == {"field": "uscc", "rule": rule, "message": body["errors"][0]["message"]}


def test_bad_path_parameter_is_a_422_problem(client: TestClient, scenario: Scenario) -> None:
    response = client.get("/v1/scores/not-a-uuid", headers=bearer(scenario.bank_a_key))

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "score_id"


def test_unknown_route_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_500_echoes_no_internals(settings: Settings, engine: object, db: Session) -> None:
    enterprise, bank = add_enterprise(db), add_bank(db)
    key = add_key(db, add_account(db, "bank", bank=bank), settings)
    add_authorisation(db, enterprise.uscc, bank)
    add_profile(db, enterprise.uscc, date(2026, 3, 31))
    with TestClient(create_app(settings, ExplodingScorer()), raise_server_exceptions=False) as client:
        response = client.post("/v1/scores", json={"uscc": enterprise.uscc}, headers=bearer(key))

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "https://xinyi.example/problems/internal"
    assert "secret-path" not in response.text
    assert "RuntimeError" not in response.text


def test_healthz_and_readyz(client: TestClient, settings: Settings, engine: object) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["model"] == {"name": "fake_pd", "version": "7"}
    with TestClient(create_app(settings, score_provider=None)) as bare:
        not_ready = bare.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.headers["content-type"] == "application/problem+json"


def test_openapi_groups_routes_by_user(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    tags = {op["tags"][0] for path in spec["paths"].values() for op in path.values()}
    assert tags == {"bank", "enterprise", "operator", "ops", "regulator"}
    assert tags == {t["name"] for t in spec["tags"]}  # every group is described
    assert client.get("/docs").status_code == 200


def test_liveness_answers_while_every_worker_thread_is_taken(app: FastAPI) -> None:
    """``/healthz`` runs on the event loop: a thread pool full of slow database work does not make it time out."""

    async def probe_with_the_pool_taken() -> int:
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = 1
        taken, done = anyio.Event(), anyio.Event()

        async def slow_database_work() -> None:
            async with limiter:  # holds the pool's one thread until the probe is over
                taken.set()
                await done.wait()

        status = 0  # no answer within 5 s
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(slow_database_work)
            await taken.wait()
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                with anyio.move_on_after(5):
                    status = (await client.get("/healthz")).status_code
            done.set()
        return status

    assert anyio.run(probe_with_the_pool_taken) == 200
