"""Portal sessions: a signed, expiring cookie naming a server-side session row, CSRF tokens tied to it, and a
throttle on failed logins.

The cookie is ``<token>.<expires>.<HMAC>`` under ``settings.secret_key``; the database keeps only a SHA-256 of
the token, and logging out ends the row, so a copied cookie stops working at once. A form's CSRF token is an
HMAC of the session token (synchronizer token); before login, of a nonce in a short-lived login cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from api.audit import note_actor, note_uscc
from api.db.models import Account, PortalSession, utcnow
from api.deps import AppSettings, DbSession
from api.portal.passwords import PORTAL_ROLES
from config.settings import Settings

SESSION_COOKIE = "xinyi_portal"
LOGIN_COOKIE = "xinyi_portal_login"
COOKIE_PATH = "/portal"
CSRF_FIELD = "csrf_token"


class LoginRequired(Exception):  # noqa: N818 - reads as what the visitor must do
    """No valid portal session: the visitor is sent to the login page."""


class PortalForbidden(Exception):  # noqa: N818 - mirrors api.errors.Forbidden
    """The logged-in account's role may not see this page (403)."""


class CsrfRefused(Exception):  # noqa: N818 - reads as what happened
    """A form came without the CSRF token of the visitor's session (403, nothing stored)."""


def _sign(settings: Settings, purpose: str, value: str) -> str:
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def _session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def set_cookie(response: Response, settings: Settings, name: str, value: str, max_age: int, *,
               httponly: bool = True) -> None:
    """A portal cookie: HttpOnly, SameSite=Lax, path /portal, and Secure everywhere except development."""
    response.set_cookie(name, value, max_age=max_age, path=COOKIE_PATH, secure=settings.env != "development",
                        httponly=httponly, samesite="lax")


def drop_cookie(response: Response, settings: Settings, name: str) -> None:
    """Remove a portal cookie from the browser."""
    response.delete_cookie(name, path=COOKIE_PATH, secure=settings.env != "development", httponly=True,
                           samesite="lax")


def start_session(db: Session, settings: Settings, account: Account) -> tuple[str, int]:
    """Store a new session for ``account`` and commit; returns the cookie value and its lifetime in seconds."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    lifetime = settings.portal_session_minutes * 60
    expires = now + timedelta(seconds=lifetime)
    db.add(PortalSession(id=_session_id(token), account_id=account.id, created_at=now, expires_at=expires))
    db.commit()
    stamp = str(int(expires.timestamp()))
    return f"{token}.{stamp}.{_sign(settings, 'portal-session', f'{token}.{stamp}')}", lifetime


@dataclass(frozen=True)
class PortalLogin:
    """A live portal session: the account, its session row, and the token its CSRF tokens derive from."""

    account: Account
    session: PortalSession
    token: str


def read_session(db: Session, settings: Settings, cookie: str | None) -> PortalLogin | None:
    """The live login a cookie names, or None if it is unsigned, expired, ended or its account may not log in."""
    parts = (cookie or "").split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    token, stamp, signature = parts
    if not hmac.compare_digest(signature, _sign(settings, "portal-session", f"{token}.{stamp}")):
        return None
    now = utcnow()
    if datetime.fromtimestamp(int(stamp), UTC) <= now:
        return None
    row = db.get(PortalSession, _session_id(token))
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    account = db.get(Account, row.account_id)
    if account is None or account.disabled_at is not None or account.role not in PORTAL_ROLES:
        return None
    return PortalLogin(account, row, token)


def end_session(db: Session, login: PortalLogin) -> None:
    """Log out: end the session row (server-side) and commit."""
    login.session.ended_at = utcnow()
    db.commit()


def csrf_token(settings: Settings, login: PortalLogin) -> str:
    """The synchronizer token every form of this session carries."""
    return _sign(settings, "portal-csrf", login.token)


def login_csrf_token(settings: Settings, nonce: str) -> str:
    """The token of the login form, tied to the nonce in the login cookie."""
    return _sign(settings, "portal-login-csrf", nonce)


def tokens_match(offered: object, expected: str) -> bool:
    """Constant-time comparison of a submitted token with the expected one."""
    return isinstance(offered, str) and hmac.compare_digest(offered.encode(), expected.encode())


class LoginThrottle:
    """Failed logins in a sliding window, counted per key (``account:7``, ``address:10.0.0.1``) against the limit
    of its kind; kept in this process's memory."""

    def __init__(self, limits: dict[str, int], window_seconds: float) -> None:
        self.limits = limits
        self.window_seconds = window_seconds
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        stamps = self._seen.setdefault(key, deque())
        while stamps and stamps[0] <= now - self.window_seconds:
            stamps.popleft()
        return stamps

    def retry_after(self, *keys: str) -> int:
        """Seconds until a login may be tried again for any of ``keys``; 0 when it may be tried now."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key in keys:
                limit = self.limits[key.split(":", 1)[0]]
                stamps = self._recent(key, now)
                if len(stamps) >= limit:
                    wait = max(wait, stamps[-limit] + self.window_seconds - now)
        return int(wait) + 1 if wait > 0 else 0

    def failed(self, *keys: str) -> None:
        """Count one failed login against each key."""
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)
            if len(self._seen) > 100_000:  # keep memory bounded: forget keys with nothing recent
                self._seen = {k: v for k, v in self._seen.items() if self._recent(k, now)}

    def succeeded(self, key: str) -> None:
        """Forget an account's failures once it logs in (its address keeps its count)."""
        with self._lock:
            self._seen.pop(key, None)


def portal_login(request: Request, db: DbSession, settings: AppSettings) -> PortalLogin:
    """The visitor's live login; LoginRequired (a redirect to the login page) without one."""
    login = read_session(db, settings, request.cookies.get(SESSION_COOKIE))
    if login is None:
        raise LoginRequired
    note_actor(request, login.account.id, login.account.role)
    return login


CurrentLogin = Annotated[PortalLogin, Depends(portal_login)]


def portal_enterprise(request: Request, login: CurrentLogin) -> PortalLogin:
    """A logged-in enterprise (its own USCC noted for the audit row); 403 for a regulator."""
    if login.account.role != "enterprise" or login.account.uscc is None:
        raise PortalForbidden
    note_uscc(request, login.account.uscc)
    return login


def portal_regulator(login: CurrentLogin) -> PortalLogin:
    """A logged-in regulator; 403 for an enterprise."""
    if login.account.role != "regulator":
        raise PortalForbidden
    return login


PortalEnterprise = Annotated[PortalLogin, Depends(portal_enterprise)]
PortalRegulator = Annotated[PortalLogin, Depends(portal_regulator)]


async def checked_form(request: Request, login: CurrentLogin, settings: AppSettings) -> PortalLogin:
    """The login, once the submitted form carries this session's CSRF token; CsrfRefused otherwise."""
    form = await request.form()
    if not tokens_match(form.get(CSRF_FIELD), csrf_token(settings, login)):
        raise CsrfRefused
    return login


CheckedForm = Annotated[PortalLogin, Depends(checked_form)]
