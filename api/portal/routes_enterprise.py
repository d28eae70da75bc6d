"""Enterprise pages: own score with reasons and advice, authorisations (grant, list, revoke), the access log and
objections. Each calls the same functions as the API (``api.grants``, ``api.self_service``, the score handler),
and always the logged-in enterprise's own USCC, never one from the URL."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from api import grants
from api.audit import note_detail
from api.db.models import PURPOSES, Bank, Objection
from api.deps import AppSettings, DbSession, get_advisor
from api.errors import ApiError, NoProfile, ValidationProblem
from api.portal.rendering import field_errors, render
from api.portal.sessions import CheckedForm, PortalEnterprise, PortalLogin
from api.routers.enterprise import read_own_score
from api.routers.objections import objections_out
from api.schemas import AuthorisationCreate
from api.schemas_enterprise import ObjectionCreate
from api.self_service import OBJECTION_SOURCES, access_log, submit_objection

router = APIRouter(prefix="/enterprise")
ACCESS_LOG_PAGE = 25
SCOPES = ("score", "profile", "tax", "social_insurance", "housing_fund", "utilities")


def _uscc(login: PortalLogin) -> str:
    assert login.account.uscc is not None  # guaranteed by PortalEnterprise
    return login.account.uscc


def _problem_page(request: Request, login: PortalLogin, exc: ApiError, template: str,
                  context: dict[str, Any]) -> Response:
    """The form's page again, with the refusal named field by field; nothing was stored."""
    note_detail(request, exc.slug + (": " + ", ".join(f"{e.field}:{e.rule}" for e in exc.errors) if exc.errors else ""))
    return render(request, template, {**context, "problem": exc}, login=login, status_code=exc.status)


@router.get("/score", name="portal.score")
def score_page(request: Request, login: PortalEnterprise, db: DbSession) -> Response:
    """The score a bank would get now, its reasons, policy hits and improvement advice (改进建议)."""
    context: dict[str, Any] = {"result": None, "missing": None}
    provider = request.app.state.score_provider
    if provider is None:
        context["missing"] = "score.no_model"
    else:
        try:
            context["result"] = read_own_score(login.account, db, provider, request.app.state.precredit_policy,
                                               get_advisor(request), request)
        except NoProfile:
            context["missing"] = "score.no_profile"
    return render(request, "enterprise/score.html", context, login=login)


def _authorisation_context(db: DbSession, login: PortalLogin) -> dict[str, Any]:
    banks = db.scalars(select(Bank).order_by(Bank.code)).all()
    return {"grants": grants.list_authorisations(db, _uscc(login)), "banks": banks, "purposes": PURPOSES,
            "scopes": SCOPES}


@router.get("/authorisations", name="portal.authorisations")
def authorisations_page(
    request: Request,
    login: PortalEnterprise,
    db: DbSession,
    receipt: Annotated[int | None, Query(ge=1)] = None,
    done: Annotated[str | None, Query(pattern="^(granted|revoked)$")] = None,
) -> Response:
    """Every grant with its status, the form to grant one, and the receipt of the last change."""
    context = _authorisation_context(db, login)
    context["receipt"] = next((g for g in context["grants"] if g.id == receipt), None)
    context["done"] = done
    return render(request, "enterprise/authorisations.html", context, login=login)


@router.post("/authorisations", name="portal.authorisation_grant")
def grant(
    request: Request,
    login: PortalEnterprise,
    checked: CheckedForm,
    db: DbSession,
    settings: AppSettings,
    bank_code: Annotated[str, Form()] = "",
    purpose: Annotated[str, Form()] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
    days: Annotated[str, Form()] = "",
) -> Response:
    """Grant a bank access (the API's rules and receipt); back to the list showing the receipt."""
    fields: dict[str, Any] = {"bank_code": bank_code, "purpose": purpose, "scopes": scopes or []}
    if days.strip():
        fields["days"] = days.strip()
    try:
        body = AuthorisationCreate.model_validate(fields)
        made = grants.grant_authorisation(db, settings, login.account, bank_code=body.bank_code,
                                          purpose=body.purpose, scopes=body.scopes, days=body.days)
    except ValidationError as exc:
        problem = ValidationProblem("The grant was refused.", field_errors(exc))
        return _problem_page(request, login, problem, "enterprise/authorisations.html",
                             _authorisation_context(db, login))
    except ApiError as exc:
        return _problem_page(request, login, exc, "enterprise/authorisations.html", _authorisation_context(db, login))
    note_detail(request, f"authorisation {made.id}")
    target = request.url_for("portal.authorisations").include_query_params(receipt=made.id, done="granted")
    return RedirectResponse(target, status_code=303)


@router.post("/authorisations/{authorisation_id}/revoke", name="portal.authorisation_revoke")
def revoke(request: Request, authorisation_id: int, login: PortalEnterprise, checked: CheckedForm,
           db: DbSession) -> Response:
    """Revoke one of this enterprise's grants at once; another enterprise's id is 'not found'."""
    try:
        grant = grants.own_authorisation(db, _uscc(login), authorisation_id)
    except ApiError as exc:
        note_detail(request, exc.slug)
        return render(request, "error.html", {"message_key": "error.not_found"}, login=login,
                      status_code=exc.status)
    made = grants.revoke_authorisation(db, grant, by=login.account)
    note_detail(request, f"authorisation {made.id}")
    target = request.url_for("portal.authorisations").include_query_params(receipt=made.id, done="revoked")
    return RedirectResponse(target, status_code=303)


@router.get("/access-log", name="portal.access_log")
def access_log_page(
    request: Request,
    login: PortalEnterprise,
    db: DbSession,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    """访问记录: who requested this enterprise's data, newest first, a page at a time."""
    found = access_log(db, _uscc(login), offset=offset, limit=ACCESS_LOG_PAGE)
    following = offset + len(found.items)
    context = {"items": found.items, "total": found.total, "offset": offset,
               "older": following if following < found.total else None,
               "newer": max(offset - ACCESS_LOG_PAGE, 0) if offset > 0 else None}
    return render(request, "enterprise/access_log.html", context, login=login)


def _objection_context(db: DbSession, login: PortalLogin) -> dict[str, Any]:
    rows = db.scalars(select(Objection).where(Objection.uscc == _uscc(login)).order_by(Objection.id.desc()))
    return {"objections": objections_out(db, list(rows)), "sources": OBJECTION_SOURCES}


@router.get("/objections", name="portal.objections")
def objections_page(
    request: Request, login: PortalEnterprise, db: DbSession,
    filed: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """This enterprise's objections with their receipts, and the form to file one."""
    return render(request, "enterprise/objections.html", {**_objection_context(db, login), "filed": filed},
                  login=login)


@router.post("/objections", name="portal.objection_create")
def file_objection(
    request: Request,
    login: PortalEnterprise,
    checked: CheckedForm,
    db: DbSession,
    source: Annotated[str, Form()] = "",
    record_key: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """File an objection to one record (the API's rules); back to the list showing its number."""
    fields = {"source": source, "record_key": record_key, "reason": reason}
    try:
        body = ObjectionCreate.model_validate(fields)
        objection = submit_objection(db, uscc=_uscc(login), account_id=login.account.id, source=body.source,
                                     record_key=body.record_key, reason=body.reason)
    except ValidationError as exc:
        problem = ValidationProblem("The objection was refused.", field_errors(exc))
        return _problem_page(request, login, problem, "enterprise/objections.html", _objection_context(db, login))
    except ApiError as exc:
        return _problem_page(request, login, exc, "enterprise/objections.html", _objection_context(db, login))
    note_detail(request, f"objection {objection.id}")
    target = request.url_for("portal.objections").include_query_params(filed=objection.id)
    return RedirectResponse(target, status_code=303)
