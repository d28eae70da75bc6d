"""Login, logout and the language switch of the portal."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from api.audit import note_actor, note_detail
from api.db.models import Account
from api.deps import AppSettings, DbSession
from api.portal.i18n import LANG_COOKIE, LANGUAGES
from api.portal.passwords import password_matches
from api.portal.rendering import render
from api.portal.sessions import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    CheckedForm,
    LoginThrottle,
    drop_cookie,
    end_session,
    login_csrf_token,
    read_session,
    set_cookie,
    start_session,
    tokens_match,
)
from config.settings import Settings

router = APIRouter()
LOGIN_FORM_SECONDS = 1800


def _home(request: Request, role: str) -> str:
    name = "portal.score" if role == "enterprise" else "portal.regulator.coverage"
    return str(request.url_for(name))


def _login_page(request: Request, settings: Settings, *, message_key: str | None = None, status_code: int = 200,
                headers: dict[str, str] | None = None) -> Response:
    nonce = secrets.token_urlsafe(24)
    page = render(request, "login.html", {"login_csrf": login_csrf_token(settings, nonce), "message_key": message_key},
                  status_code=status_code, headers=headers)
    set_cookie(page, settings, LOGIN_COOKIE, nonce, LOGIN_FORM_SECONDS)
    return page


@router.get("", name="portal.home")
def home(request: Request, db: DbSession, settings: AppSettings) -> Response:
    """The visitor's first page: their role's home when logged in, else the login page."""
    login = read_session(db, settings, request.cookies.get(SESSION_COOKIE))
    if login is None:
        return RedirectResponse(request.url_for("portal.login_form"), status_code=303)
    return RedirectResponse(_home(request, login.account.role), status_code=303)


@router.get("/login", name="portal.login_form")
def login_form(request: Request, settings: AppSettings) -> Response:
    """The login form, with a login CSRF token tied to a fresh nonce cookie."""
    return _login_page(request, settings)


def _account(db: Session, account_id: str) -> Account | None:
    return db.get(Account, int(account_id)) if account_id.strip().isdigit() and len(account_id) < 12 else None


@router.post("/login", name="portal.login")
def login(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    account_id: Annotated[str, Form(max_length=40)] = "",
    password: Annotated[str, Form(max_length=400)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Check the password (enterprise and regulator accounts only), start a session and go home.

    Failures count per account and per client address; past ``portal_login_failures`` in the window the form
    answers 429 without checking the password at all.
    """
    nonce = request.cookies.get(LOGIN_COOKIE)
    if nonce is None or not tokens_match(csrf_token, login_csrf_token(settings, nonce)):
        note_detail(request, "portal login form without its token")
        return _login_page(request, settings, message_key="login.expired", status_code=403)
    throttle: LoginThrottle = request.app.state.login_throttle
    claimed = account_id.strip()
    claimed = str(int(claimed)) if claimed.isdigit() and len(claimed) < 12 else claimed[:40]  # "007" is 7
    keys = (f"account:{claimed}", f"address:{request.client.host if request.client else 'unknown'}")
    wait = throttle.retry_after(*keys)
    if wait:
        note_detail(request, "portal login throttled")
        return _login_page(request, settings, message_key="login.throttled", status_code=429,
                           headers={"Retry-After": str(wait)})
    account = _account(db, account_id)
    if not password_matches(settings, account, password):
        throttle.failed(*keys)
        note_detail(request, f"portal login refused for account {account_id.strip()[:12]}")
        return _login_page(request, settings, message_key="login.failed", status_code=401)
    assert account is not None  # password_matches is False without one
    throttle.succeeded(keys[0])
    note_actor(request, account.id, account.role)
    note_detail(request, "portal login")
    cookie, lifetime = start_session(db, settings, account)
    response = RedirectResponse(_home(request, account.role), status_code=303)
    set_cookie(response, settings, SESSION_COOKIE, cookie, lifetime)
    drop_cookie(response, settings, LOGIN_COOKIE)
    return response


@router.post("/logout", name="portal.logout")
def logout(request: Request, login: CheckedForm, db: DbSession, settings: AppSettings) -> Response:
    """End the session on the server and drop the cookie."""
    end_session(db, login)
    note_detail(request, "portal logout")
    response = RedirectResponse(request.url_for("portal.login_form"), status_code=303)
    drop_cookie(response, settings, SESSION_COOKIE)
    return response


@router.get("/lang/{language}", name="portal.language")
def switch_language(
    request: Request,
    language: str,
    settings: AppSettings,
    back: Annotated[str, Query(alias="next", max_length=300)] = "/portal",
) -> Response:
    """Remember the chosen language in a cookie and return to the page (only portal pages, never elsewhere)."""
    target = back if back.startswith("/portal") and "//" not in back and "\\" not in back else "/portal"
    response = RedirectResponse(target, status_code=303)
    if language in LANGUAGES:
        set_cookie(response, settings, LANG_COOKIE, language, 365 * 86400)
    return response
