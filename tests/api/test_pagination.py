"""Every list endpoint pages with ``limit`` and an opaque cursor: walking the pages returns each row once, in the
list's order, even while rows are added; bad cursors and limits are 422 naming the field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.db.models import Authorisation, utcnow
from api.pagination import NEXT_CURSOR_HEADER
from tests.api.factories import Scenario, add_account, add_bank, add_key, bearer


def walk(client: TestClient, url: str, headers: dict[str, str], limit: int, **params: Any) -> list[list[Any]]:
    """Every page of a list, following the next cursor (header for arrays, ``next_cursor`` for envelopes)."""
    pages: list[list[Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get(url, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        if isinstance(body, dict):
            pages.append(body["items"])
            cursor = body["next_cursor"]
        else:
            pages.append(body)
            cursor = response.headers.get(NEXT_CURSOR_HEADER)
            if cursor:
                assert response.headers["link"].endswith('>; rel="next"') and f"cursor={cursor}" in response.headers[
                    "link"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "the walk does not end"


@pytest.fixture
def busy(client: TestClient, scenario: Scenario, db: Session) -> dict[str, dict[str, str]]:
    """Seven grants (three granted at the same instant), seven scores, five reviews and five objections."""
    same_moment = utcnow() - timedelta(hours=1)
    for i in range(6):
        db.add(Authorisation(uscc=scenario.uscc, bank_id=add_bank(db).id, purpose="pre_credit", scopes=["score"],
                             granted_at=same_moment if i < 3 else utcnow(), expires_at=utcnow() + timedelta(days=9)))
    db.commit()
    bank, enterprise = bearer(scenario.bank_a_key), bearer(scenario.enterprise_key)
    scores = [client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bank).json()["id"] for _ in range(7)]
    for score_id in scores[:5]:
        assert client.post("/v1/enterprise/reviews", json={"score_request_id": score_id, "reason": "请人工复核该决定"},
                           headers=enterprise).status_code == 201
    for i in range(5):
        assert client.post("/v1/enterprise/objections", headers=enterprise, json={
            "source": "admin_records", "record_key": f"罚-{i}", "reason": "该记录已完成信用修复。"}).status_code == 201
    operator = bearer(add_key(db, add_account(db, "operator"), client.app.state.settings))  # type: ignore[attr-defined]
    return {"enterprise": enterprise, "operator": operator}


LISTS = [
    ("/v1/enterprise/authorisations", "enterprise", "id", 7),
    ("/v1/enterprise/decisions", "enterprise", "score_id", 7),
    ("/v1/enterprise/reviews", "enterprise", "id", 5),
    ("/v1/enterprise/objections", "enterprise", "id", 5),
    ("/v1/enterprise/access-log", "enterprise", "request_id", 7),
    ("/v1/objections", "operator", "id", 5),
    ("/v1/reviews", "operator", "id", 5),
]


@pytest.mark.parametrize(("url", "who", "key", "rows"), LISTS, ids=[u for u, *_ in LISTS])
@pytest.mark.parametrize("limit", [1, 2, 3])
def test_walking_the_pages_returns_each_row_once_in_order(
    client: TestClient, busy: dict[str, dict[str, str]], url: str, who: str, key: str, rows: int, limit: int
) -> None:
    everything = walk(client, url, busy[who], limit=200)
    pages = walk(client, url, busy[who], limit=limit)

    assert len(everything) == 1 and len(everything[0]) == rows
    assert all(len(page) == limit for page in pages[:-1]) and 1 <= len(pages[-1]) <= limit
    assert [row[key] for page in pages for row in page] == [row[key] for row in everything[0]]


def test_rows_added_during_a_walk_neither_repeat_nor_hide_others(
    client: TestClient, scenario: Scenario, busy: dict[str, dict[str, str]]
) -> None:
    url, headers = "/v1/enterprise/access-log", busy["enterprise"]
    before = [row["request_id"] for row in walk(client, url, headers, limit=200)[0]]
    first = client.get(url, params={"limit": 3}, headers=headers).json()
    for _ in range(4):  # newer rows arrive at the top of a newest-first list
        client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key))

    rest = walk(client, url, headers, limit=3, cursor=first["next_cursor"])

    seen = [row["request_id"] for row in first["items"]] + [row["request_id"] for page in rest for row in page]
    assert seen == before


@pytest.mark.parametrize(
    ("params", "field", "rule"),
    [
        ({"cursor": "not-base64-json"}, "cursor", "cursor.invalid"),
        ({"cursor": "eyJsIjoib3RoZXIiLCJrIjpbMV19"}, "cursor", "cursor.invalid"),  # {"l":"other","k":[1]}
        ({"cursor": "a b"}, "cursor", "string_pattern_mismatch"),
        ({"limit": 0}, "limit", "greater_than_equal"),
        ({"limit": 201}, "limit", "less_than_equal"),
    ],
)
def test_bad_cursors_and_limits_are_422_naming_the_field(
    client: TestClient, scenario: Scenario, params: dict[str, Any], field: str, rule: str
) -> None:
    response = client.get("/v1/enterprise/objections", params=params, headers=bearer(scenario.enterprise_key))

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert (response.json()["errors"][0]["field"], response.json()["errors"][0]["rule"]) == (field, rule)


def test_a_cursor_of_one_list_is_refused_by_another(client: TestClient, busy: dict[str, dict[str, str]]) -> None:
    headers = busy["enterprise"]
    cursor = client.get("/v1/enterprise/reviews", params={"limit": 1}, headers=headers).headers[NEXT_CURSOR_HEADER]

    response = client.get("/v1/enterprise/objections", params={"cursor": cursor}, headers=headers)

    assert response.status_code == 422 and response.json()["errors"][0]["rule"] == "cursor.invalid"
