"""A Python client of the Xinyi pre-credit API, written against its OpenAPI document (``/openapi.json``).

It imports nothing from the server — only httpx and the standard library — so a bank or an enterprise can copy
this one file. Every method is one operation of the document (``OPERATIONS`` names its method and path; a test
holds them to the served document). Answers are the JSON bodies as dicts; a refusal raises :class:`ApiProblem`
carrying the RFC 9457 problem (type, title, status, detail, the fields and rules broken). Lists are walked page
by page through their cursors by the ``iter_*`` methods.

    with XinyiClient("https://xinyi.example", api_key="xk_...") as bank:
        answer = bank.score("91350100M000100Y43", requested_amount=500_000)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

OPERATIONS: dict[str, tuple[str, str]] = {
    # banks (金融机构)
    "score": ("POST", "/v1/scores"),
    "score_batch": ("POST", "/v1/scores/batch"),
    "read_score": ("GET", "/v1/scores/{score_id}"),
    "report_loan_event": ("POST", "/v1/loans/{bank_loan_id}/events"),
    "report_loan_events": ("POST", "/v1/loan-events"),
    "read_loan": ("GET", "/v1/loans/{bank_loan_id}"),
    # enterprises (企业)
    "grant": ("POST", "/v1/enterprise/authorisations"),
    "authorisations": ("GET", "/v1/enterprise/authorisations"),
    "revoke": ("DELETE", "/v1/enterprise/authorisations/{authorisation_id}"),
    "own_profile": ("GET", "/v1/enterprise/profile"),
    "own_score": ("GET", "/v1/enterprise/score"),
    "access_log": ("GET", "/v1/enterprise/access-log"),
    "decisions": ("GET", "/v1/enterprise/decisions"),
    "object": ("POST", "/v1/enterprise/objections"),
    "objections": ("GET", "/v1/enterprise/objections"),
    "request_review": ("POST", "/v1/enterprise/reviews"),
    "reviews": ("GET", "/v1/enterprise/reviews"),
    # operations
    "ready": ("GET", "/readyz"),
}
"""Each client method's operation in the OpenAPI document: (HTTP method, path template)."""
NEXT_CURSOR_HEADER = "X-Next-Cursor"


class ApiProblem(Exception):  # noqa: N818 - the RFC's name for it
    """A problem+json answer: ``status``, stable ``type``, ``title``, ``detail``, ``errors`` (field, rule, message)
    and, on 429, ``retry_after`` seconds."""

    def __init__(self, status: int, body: dict[str, Any], retry_after: int | None = None) -> None:
        self.status = status
        self.type = str(body.get("type", "about:blank"))
        self.title = str(body.get("title", ""))
        self.detail = str(body.get("detail", ""))
        self.errors: list[dict[str, str]] = list(body.get("errors") or [])
        self.request_id: str | None = body.get("request_id")
        self.retry_after = retry_after
        super().__init__(f"{status} {self.type}: {self.detail}")

    @property
    def slug(self) -> str:
        """The last part of ``type`` (``not-authorised``, ``rate-limited``, ``validation``…)."""
        return self.type.rstrip("/").rsplit("/", 1)[-1]


class XinyiClient:
    """One caller's client: an API key, a base URL, and (optionally) how often to wait out a 429."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        retries_on_429: int = 0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.retries_on_429 = retries_on_429
        self._http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {api_key}"},
                                  timeout=timeout, transport=transport)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> XinyiClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    # -- plumbing ----------------------------------------------------------------------------------------------

    def _send(self, operation: str, *, path: dict[str, Any] | None = None, json: Any = None,
              params: dict[str, Any] | None = None) -> httpx.Response:
        method, template = OPERATIONS[operation]
        url = template.format(**{k: quote(str(v), safe="") for k, v in (path or {}).items()})
        query = {k: v for k, v in (params or {}).items() if v is not None}
        for attempt in range(self.retries_on_429 + 1):
            response = self._http.request(method, url, json=json, params=query)
            if response.status_code != 429 or attempt == self.retries_on_429:
                break
            time.sleep(int(response.headers.get("Retry-After", "1")))
        if response.status_code >= 400:
            retry = response.headers.get("Retry-After")
            try:
                body = response.json()
            except ValueError:
                body = {"detail": response.text[:200]}
            raise ApiProblem(response.status_code, body if isinstance(body, dict) else {},
                             int(retry) if retry and retry.isdigit() else None)
        return response

    def _call(self, operation: str, **kwargs: Any) -> Any:
        return self._send(operation, **kwargs).json()

    def _pages(self, operation: str, limit: int, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        cursor: str | None = None
        while True:
            response = self._send(operation, params={**(params or {}), "limit": limit, "cursor": cursor})
            body = response.json()
            if isinstance(body, dict):
                yield from body["items"]
                cursor = body.get("next_cursor")
            else:
                yield from body
                cursor = response.headers.get(NEXT_CURSOR_HEADER)
            if not cursor:
                return

    # -- banks -------------------------------------------------------------------------------------------------

    def score(self, uscc: str, requested_amount: float | None = None) -> dict[str, Any]:
        """预授信评分 of an enterprise that authorised this bank: PD, score, grade, reasons, decision, limit."""
        body: dict[str, Any] = {"uscc": uscc}
        if requested_amount is not None:
            body["requested_amount"] = requested_amount
        result: dict[str, Any] = self._call("score", json=body)
        return result

    def score_batch(self, usccs: list[str], purpose: str = "pre_credit") -> dict[str, Any]:
        """Scores of up to 100 enterprises, each with its own status and score or problem."""
        result: dict[str, Any] = self._call("score_batch", json={"purpose": purpose, "usccs": usccs})
        return result

    def read_score(self, score_id: str) -> dict[str, Any]:
        """A score this bank was given, as it was given."""
        result: dict[str, Any] = self._call("read_score", path={"score_id": score_id})
        return result

    def report_loan_event(self, bank_loan_id: str, event: dict[str, Any]) -> dict[str, Any]:
        """回传: one loan event; the same event sent again answers its stored receipt."""
        result: dict[str, Any] = self._call("report_loan_event", path={"bank_loan_id": bank_loan_id}, json=event)
        return result

    def report_loan_events(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """回传 in a batch: ``[{"bank_loan_id": ..., "event": {...}}, ...]``, each with its own result."""
        result: dict[str, Any] = self._call("report_loan_events", json={"items": items})
        return result

    def read_loan(self, bank_loan_id: str) -> dict[str, Any]:
        """A loan this bank reported, with its events and status."""
        result: dict[str, Any] = self._call("read_loan", path={"bank_loan_id": bank_loan_id})
        return result

    # -- enterprises -------------------------------------------------------------------------------------------

    def grant(self, bank_code: str, purpose: str = "pre_credit", scopes: tuple[str, ...] | None = None,
              days: int | None = None) -> dict[str, Any]:
        """授权: let one bank use this enterprise's data for one purpose; the answer is the receipt. ``scopes``
        (e.g. ``("score", "tax", "social_insurance")``) default to the platform's: scoring from every source."""
        body: dict[str, Any] = {"bank_code": bank_code, "purpose": purpose}
        if scopes is not None:
            body["scopes"] = list(scopes)
        if days is not None:
            body["days"] = days
        result: dict[str, Any] = self._call("grant", json=body)
        return result

    def iter_authorisations(self, limit: int = 50) -> Iterator[dict[str, Any]]:
        """Every grant this enterprise made, newest first, page by page."""
        return self._pages("authorisations", limit)

    def revoke(self, authorisation_id: int) -> dict[str, Any]:
        """Revoke a grant; the bank is refused from its next request on."""
        result: dict[str, Any] = self._call("revoke", path={"authorisation_id": authorisation_id})
        return result

    def own_profile(self) -> dict[str, Any]:
        """企业画像 in words, disputed records flagged."""
        result: dict[str, Any] = self._call("own_profile")
        return result

    def own_score(self) -> dict[str, Any]:
        """The score a bank would get now, with reasons and improvement advice."""
        result: dict[str, Any] = self._call("own_score")
        return result

    def iter_access_log(self, limit: int = 50) -> Iterator[dict[str, Any]]:
        """访问记录: who accessed this enterprise's data, newest first, page by page."""
        return self._pages("access_log", limit)

    def iter_decisions(self, limit: int = 50) -> Iterator[dict[str, Any]]:
        """Automated decisions banks obtained about this enterprise, newest first."""
        return self._pages("decisions", limit)

    def object(self, source: str, record_key: str, reason: str) -> dict[str, Any]:
        """异议: dispute one record; the answer is the receipt."""
        result: dict[str, Any] = self._call("object", json={"source": source, "record_key": record_key,
                                                            "reason": reason})
        return result

    def iter_objections(self, limit: int = 50) -> Iterator[dict[str, Any]]:
        """This enterprise's objections, newest first, each with its history."""
        return self._pages("objections", limit)

    def request_review(self, score_id: str, reason: str) -> dict[str, Any]:
        """Ask for human review of an automated decision (PIPL Art. 24)."""
        result: dict[str, Any] = self._call("request_review", json={"score_request_id": score_id, "reason": reason})
        return result

    def iter_reviews(self, limit: int = 50) -> Iterator[dict[str, Any]]:
        """This enterprise's review requests, newest first."""
        return self._pages("reviews", limit)

    # -- operations --------------------------------------------------------------------------------------------

    def ready(self) -> dict[str, Any]:
        """Readiness: database reachable and a model loaded (ApiProblem 503 otherwise)."""
        result: dict[str, Any] = self._call("ready")
        return result
