"""The OpenAPI document is complete: every operation has a summary, response schemas, its problem responses as
problem+json, and request examples; bank operations say they may be rate limited."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from api.app import create_app
from config.settings import Settings
from tests.api.factories import FakeScorer

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    app: FastAPI = create_app(Settings(env="test", secret_key="not-the-default-secret", database_url="sqlite://"),
                              score_provider=FakeScorer())
    return app.openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def has_example(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    """An example is given, or can be composed from examples, defaults or enumerations of every required part."""
    schema = resolve(document, schema)
    if any(k in schema for k in ("examples", "example", "default", "const", "enum")) or schema.get("type") == "boolean":
        return True
    if "anyOf" in schema or "oneOf" in schema:
        return any(has_example(document, s) for s in schema.get("anyOf", schema.get("oneOf", [])))
    if "properties" in schema:
        return all(has_example(document, schema["properties"][name]) for name in schema.get("required", []))
    if schema.get("type") == "array":
        return has_example(document, schema.get("items", {}))
    return False


def test_every_operation_has_a_summary_a_description_and_a_unique_id(document: dict[str, Any]) -> None:
    found = operations(document)

    assert len(found) > 20
    assert [(m, p) for m, p, op in found if not op.get("summary") or not op.get("description")] == []
    ids = [op["operationId"] for _, _, op in found]
    assert len(ids) == len(set(ids))


def test_every_success_response_has_a_schema(document: dict[str, Any]) -> None:
    missing = [
        (method, path, status)
        for method, path, op in operations(document)
        for status, response in op["responses"].items()
        if status.startswith("2") and not any("schema" in media for media in response.get("content", {}).values())
    ]

    assert missing == []


def test_every_api_operation_documents_its_problems_as_problem_json(document: dict[str, Any]) -> None:
    api = [(m, p, op) for m, p, op in operations(document) if p.startswith("/v1/")]
    without_401 = [(m, p) for m, p, op in api if "401" not in op["responses"]]
    errors = [(m, p, status, response) for m, p, op in operations(document)
              for status, response in op["responses"].items() if status[0] in "45"]
    not_problem = [(m, p, s) for m, p, s, r in errors if list(r.get("content", {})) != [PROBLEM]]
    no_schema = [(m, p, s) for m, p, s, r in errors
                 if r.get("content", {}).get(PROBLEM, {}).get("schema", {}).get("$ref", "").rsplit("/", 1)[-1]
                 != "Problem"]

    assert without_401 == []
    assert not_problem == [] and no_schema == []  # FastAPI's own 422 body (HTTPValidationError) is never promised


def test_operations_with_input_document_422(document: dict[str, Any]) -> None:
    with_input = [(m, p, op) for m, p, op in operations(document)
                  if op.get("requestBody") or any(prm["in"] in ("query", "path") for prm in op.get("parameters", []))]

    assert [(m, p) for m, p, op in with_input if "422" not in op["responses"]] == []


def test_bank_operations_say_they_may_be_rate_limited(document: dict[str, Any]) -> None:
    bank = [(m, p, op) for m, p, op in operations(document) if "bank" in op.get("tags", [])]

    assert len(bank) >= 5
    assert [(m, p) for m, p, op in bank if "429" not in op["responses"]] == []
    assert all("Retry-After" in op["responses"]["429"]["headers"] for _, _, op in bank)


def test_every_request_body_has_an_example(document: dict[str, Any]) -> None:
    bodies = [(m, p, op["requestBody"]) for m, p, op in operations(document) if "requestBody" in op]
    without = [(m, p) for m, p, body in bodies
               if not any(has_example(document, media.get("schema", {})) or media.get("examples")
                          for media in body["content"].values())]

    assert len(bodies) >= 8
    assert without == []


def test_lists_document_their_paging(document: dict[str, Any]) -> None:
    lists = [(m, p, op) for m, p, op in operations(document)
             if m == "GET" and any(prm["name"] == "cursor" for prm in op.get("parameters", []))]

    assert len(lists) >= 7
    for _, _, op in lists:
        limit = next(prm for prm in op["parameters"] if prm["name"] == "limit")
        assert limit["schema"]["maximum"] == 200
        ok = op["responses"]["200"]
        paged_body = "next_cursor" in str(ok["content"]) or "AccessLogOut" in str(ok["content"])
        assert paged_body or "X-Next-Cursor" in ok.get("headers", {})
