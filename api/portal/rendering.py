"""Pages from Jinja2 templates, each given the visitor's language, its labels, the login and its CSRF token."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from api.errors import FieldError
from api.portal.i18n import LANG_COOKIE, Language, choose_language, column, text
from api.portal.sessions import PortalLogin, csrf_token
from api.schemas_loans import BUSINESS_TIMEZONE
from config.settings import Settings

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
templates = Jinja2Templates(directory=TEMPLATES_DIR)

ENTERPRISE_NAV = (("portal.score", "nav.score"), ("portal.authorisations", "nav.authorisations"),
                  ("portal.access_log", "nav.access_log"), ("portal.objections", "nav.objections"))
REGULATOR_NAV = (("portal.regulator.coverage", "nav.coverage"), ("portal.regulator.lending", "nav.lending"),
                 ("portal.regulator.timeliness", "nav.timeliness"), ("portal.regulator.quality", "nav.quality"),
                 ("portal.regulator.declines", "nav.declines"), ("portal.regulator.monitoring", "nav.monitoring"))


def language_of(request: Request) -> Language:
    """The visitor's language (cookie, then Accept-Language, then Chinese)."""
    return choose_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def when(value: datetime | date | None) -> str:
    """A timestamp in Beijing time to the minute (dates as they are); empty for none."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(BUSINESS_TIMEZONE).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def cell(value: Any, column: str = "") -> str:
    """A table cell: rates as percentages, floats rounded, missing values empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, float):
        if column.endswith(("_rate", "_yoy")) or column in ("rate", "target") or column.startswith("share"):
            return f"{value * 100:.1f}%"
        return f"{value:,.2f}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, (datetime, date)):
        return when(value)
    return str(value)


templates.env.filters["when"] = when
templates.env.filters["cell"] = cell


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    login: PortalLogin | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page in the visitor's language; forms get the session's CSRF token."""
    settings: Settings = request.app.state.settings
    lang = language_of(request)
    nav: Sequence[tuple[str, str]] = ()
    if login is not None:
        nav = ENTERPRISE_NAV if login.account.role == "enterprise" else REGULATOR_NAV
    page = {
        "lang": lang,
        "t": lambda key: text(key, lang),
        "col": lambda name: column(name, lang),
        "login": login,
        "csrf": csrf_token(settings, login) if login is not None else "",
        "nav": nav,
        "current": getattr(request.scope.get("route"), "name", ""),
        **(context or {}),
    }
    return templates.TemplateResponse(request, template, page, status_code=status_code, headers=headers)


def field_errors(exc: ValidationError) -> list[FieldError]:
    """One FieldError per pydantic error of a form: the field, the rule it broke, and why."""
    return [
        FieldError(".".join(str(p) for p in e["loc"]) or "form", str(e["type"]), str(e["msg"])) for e in exc.errors()
    ]
