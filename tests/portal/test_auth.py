"""Portal login, session cookie, logout, CSRF, throttling and security headers."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.app import create_app
from api.db.models import AuditEvent, PortalSession
from api.portal.middleware import CONTENT_SECURITY_POLICY
from api.portal.sessions import SESSION_COOKIE
from config.settings import Settings
from tests.api.factories import FakeScorer, add_account, add_bank
from tests.portal.conftest import PASSWORD, Cast, csrf_of, log_in, with_password


def _cookie_header(response: object, name: str) -> str:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    return next(h for h in headers if h.startswith(f"{name}="))


def test_login_sets_a_secure_httponly_lax_cookie_for_the_portal_only(browser: TestClient, cast: Cast) -> None:
    response = log_in(browser, cast.enterprise.id)
    assert response.status_code == 303
    assert response.headers["location"].endswith("/portal/enterprise/score")
    cookie = _cookie_header(response, SESSION_COOKIE).lower()
    for flag in ("httponly", "secure", "samesite=lax", "path=/portal", "max-age=3600"):
        assert flag in cookie
    assert browser.get("/portal/enterprise/score").status_code == 200


def test_development_cookies_are_not_secure(settings: Settings, engine: object, db: Session) -> None:
    dev = settings.model_copy(update={"env": "development"})
    regulator = with_password(db, dev, add_account(db, "regulator"))
    with TestClient(create_app(dev, score_provider=FakeScorer()), follow_redirects=False) as client:
        response = log_in(client, regulator.id)
        assert response.status_code == 303
        assert "secure" not in _cookie_header(response, SESSION_COOKIE).lower()


def test_a_wrong_password_gets_no_session(browser: TestClient, cast: Cast, db: Session) -> None:
    response = log_in(browser, cast.enterprise.id, "not the password at all")
    assert response.status_code == 401
    assert "The account number or password is not right" in response.text or "账号或密码不正确" in response.text
    assert SESSION_COOKIE not in browser.cookies
    assert db.scalars(select(PortalSession)).all() == []
    assert browser.get("/portal/enterprise/score").status_code == 303


def test_a_bank_account_cannot_log_in_even_with_a_password_hash(
    browser: TestClient, cast: Cast, db: Session
) -> None:
    bank = add_account(db, "bank", bank=add_bank(db))
    bank.password_hash = cast.enterprise.password_hash  # same hash as a working login: still refused
    db.commit()
    assert log_in(browser, bank.id).status_code == 401
    assert db.scalars(select(PortalSession)).all() == []


def test_failed_logins_are_throttled_per_account(browser: TestClient, cast: Cast, settings: Settings) -> None:
    for _ in range(settings.portal_login_failures):
        assert log_in(browser, cast.regulator.id, "wrong password!!").status_code == 401
    throttled = log_in(browser, cast.regulator.id)  # even the right password waits
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
    assert SESSION_COOKIE not in browser.cookies


def test_leading_zeros_do_not_dodge_the_throttle(browser: TestClient, cast: Cast, settings: Settings) -> None:
    for i in range(settings.portal_login_failures):
        assert log_in(browser, f"{'0' * i}{cast.regulator.id}", "wrong password!!").status_code == 401
    assert log_in(browser, cast.regulator.id).status_code == 429


def test_failed_logins_are_throttled_per_address(browser: TestClient, cast: Cast, settings: Settings) -> None:
    for i in range(settings.portal_login_address_failures):
        assert log_in(browser, 900_000 + i, "wrong password!!").status_code == 401  # a new account each time
    assert log_in(browser, cast.enterprise.id).status_code == 429


def test_the_login_form_needs_its_token(browser: TestClient, cast: Cast) -> None:
    browser.get("/portal/login")
    response = browser.post("/portal/login", data={"account_id": str(cast.enterprise.id), "password": PASSWORD,
                                                   "csrf_token": "forged"})
    assert response.status_code == 403
    assert SESSION_COOKIE not in browser.cookies


def _visit_with(client: TestClient, cookie: str) -> int:
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, cookie)
    return client.get("/portal/enterprise/score").status_code


def test_logout_ends_the_session_on_the_server(browser: TestClient, cast: Cast, db: Session) -> None:
    log_in(browser, cast.enterprise.id)
    stolen = browser.cookies[SESSION_COOKIE]
    assert _visit_with(browser, stolen) == 200  # a copy of the cookie works while the session lives
    page = browser.get("/portal/enterprise/score")
    out = browser.post("/portal/logout", data={"csrf_token": csrf_of(page)})
    assert out.status_code == 303
    assert "max-age=0" in _cookie_header(out, SESSION_COOKIE).lower()  # the browser drops it too
    assert db.scalars(select(PortalSession.ended_at)).one() is not None
    assert _visit_with(browser, stolen) == 303  # and not after logout


def test_logout_without_the_csrf_token_is_refused(browser: TestClient, cast: Cast, db: Session) -> None:
    log_in(browser, cast.enterprise.id)
    assert browser.post("/portal/logout", data={}).status_code == 403
    assert db.scalars(select(PortalSession.ended_at)).one() is None


def test_a_tampered_cookie_is_not_a_session(browser: TestClient, cast: Cast) -> None:
    log_in(browser, cast.enterprise.id)
    genuine = browser.cookies[SESSION_COOKIE]
    token, stamp, signature = genuine.split(".")
    assert _visit_with(browser, genuine) == 200
    assert _visit_with(browser, f"{token}.{int(stamp) + 86_400}.{signature}") == 303  # expiry moved, no key
    assert _visit_with(browser, f"{token[:-1]}x.{stamp}.{signature}") == 303


def test_pages_carry_the_security_headers(browser: TestClient, cast: Cast) -> None:
    log_in(browser, cast.enterprise.id)
    for path in ("/portal/login", "/portal/enterprise/score", "/portal/static/portal.css"):
        headers = browser.get(path).headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
    assert browser.get("/portal/enterprise/score").headers["cache-control"] == "no-store"


def test_pages_use_only_the_apps_own_scripts_and_styles(browser: TestClient, cast: Cast) -> None:
    log_in(browser, cast.regulator.id)
    page = browser.get("/portal/regulator/lending").text
    assert "<style" not in page and " style=" not in page and "<script" not in page
    links = re.findall(r'(?:href|src|action)="([^"]+)"', page)
    assert links and all(link.startswith(("/", "https://testserver/", "?")) for link in links), links


def test_logins_and_refusals_leave_audit_rows(browser: TestClient, cast: Cast, db: Session) -> None:
    log_in(browser, cast.enterprise.id, "wrong password!!")
    log_in(browser, cast.enterprise.id)
    rows = db.scalars(select(AuditEvent).where(AuditEvent.action == "portal.login").order_by(AuditEvent.id)).all()
    assert [(r.outcome, r.http_status, r.actor_account_id) for r in rows] == [
        ("denied", 401, None), ("allowed", 303, cast.enterprise.id)]
    assert all("password" not in (r.detail or "").replace("portal login", "") for r in rows)


def test_language_follows_the_switch_then_accept_language(app: FastAPI, cast: Cast) -> None:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        assert "登录" in client.get("/portal/login").text
        english = client.get("/portal/login", headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"}).text
        assert "Account number" in english and "账号编号" not in english
        chinese_first = client.get("/portal/login", headers={"Accept-Language": "zh-CN;q=0.8,en;q=0.7"}).text
        assert "账号编号" in chinese_first
        switched = client.get("/portal/lang/en", params={"next": "/portal/login"})
        assert switched.status_code == 303 and switched.headers["location"] == "/portal/login"
        assert "Account number" in client.get("/portal/login").text
        elsewhere = client.get("/portal/lang/zh", params={"next": "https://evil.example/"})
        assert elsewhere.headers["location"] == "/portal"
