"""Enterprise pages: own score, authorisations granted and revoked through forms, access log and objections;
never another enterprise's data, and an audit row for every page read."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import AuditEvent, Authorisation, AuthorisationChange, Objection
from config.settings import Settings
from tests.api.factories import bearer
from tests.portal.conftest import Cast, csrf_of, log_in


def _grant_form(browser: TestClient, **fields: object) -> dict[str, object]:
    page = browser.get("/portal/enterprise/authorisations")
    return {"csrf_token": csrf_of(page), "purpose": "pre_credit", "scopes": ["score"], **fields}


def test_score_page_shows_what_the_api_gives_the_enterprise(browser: TestClient, cast: Cast) -> None:
    api = browser.get("/v1/enterprise/score", headers=bearer(cast.scenario.enterprise_key)).json()
    log_in(browser, cast.enterprise.id)
    page = browser.get("/portal/enterprise/score")
    assert page.status_code == 200
    assert re.search(rf'id="score">{api["score"]}<', page.text)
    assert api["reasons"]["lowering"][0]["text_zh"] in page.text


def test_granting_through_the_form_stores_the_grant_and_shows_its_receipt(
    browser: TestClient, cast: Cast, db: Session
) -> None:
    log_in(browser, cast.enterprise.id)
    bank_b = cast.scenario.bank_b
    response = browser.post("/portal/enterprise/authorisations", data=_grant_form(browser, bank_code=bank_b.code,
                                                                                  days="30"))
    assert response.status_code == 303
    grant = db.scalars(select(Authorisation).where(Authorisation.bank_id == bank_b.id)).one()
    assert grant.uscc == cast.scenario.uscc and grant.granted_by_account_id == cast.enterprise.id
    assert (grant.expires_at - grant.granted_at).days == 30
    listed = browser.get(response.headers["location"])
    assert f'data-grant="{grant.id}" data-status="active"' in listed.text
    assert 'id="receipt"' in listed.text and str(grant.id) in listed.text
    assert browser.post("/v1/scores", json={"uscc": cast.scenario.uscc},
                        headers=bearer(cast.scenario.bank_b_key)).status_code == 200


def test_a_form_without_the_csrf_token_stores_nothing(browser: TestClient, cast: Cast, db: Session) -> None:
    log_in(browser, cast.enterprise.id)
    form = _grant_form(browser, bank_code=cast.scenario.bank_b.code)
    del form["csrf_token"]
    assert browser.post("/portal/enterprise/authorisations", data=form).status_code == 403
    form["csrf_token"] = "0" * 64
    assert browser.post("/portal/enterprise/authorisations", data=form).status_code == 403
    assert db.scalars(select(Authorisation).where(Authorisation.bank_id == cast.scenario.bank_b.id)).all() == []


def test_another_sessions_csrf_token_is_refused(app: object, browser: TestClient, cast: Cast, db: Session) -> None:
    log_in(browser, cast.other_enterprise.id)
    foreign_token = csrf_of(browser.get("/portal/enterprise/authorisations"))
    log_in(browser, cast.enterprise.id)
    form = _grant_form(browser, bank_code=cast.scenario.bank_b.code)
    form["csrf_token"] = foreign_token
    assert browser.post("/portal/enterprise/authorisations", data=form).status_code == 403
    assert db.scalars(select(Authorisation).where(Authorisation.bank_id == cast.scenario.bank_b.id)).all() == []


def test_bad_input_is_refused_naming_the_field_and_rule(
    browser: TestClient, cast: Cast, db: Session, settings: Settings
) -> None:
    log_in(browser, cast.enterprise.id)
    too_long = browser.post("/portal/enterprise/authorisations",
                            data=_grant_form(browser, bank_code=cast.scenario.bank_b.code,
                                             days=str(settings.authorisation_days_max + 1)))
    assert too_long.status_code == 422
    assert "<td>days</td>" in too_long.text and "authorisation.days_max" in too_long.text
    unknown = browser.post("/portal/enterprise/authorisations", data=_grant_form(browser, bank_code="NO_SUCH_BANK"))
    assert unknown.status_code == 422 and "bank_code.unknown" in unknown.text
    no_scope = browser.post("/portal/enterprise/authorisations",
                            data=_grant_form(browser, bank_code=cast.scenario.bank_b.code, scopes=[]))
    assert no_scope.status_code == 422 and "<td>scopes</td>" in no_scope.text
    assert db.scalars(select(Authorisation).where(Authorisation.bank_id == cast.scenario.bank_b.id)).all() == []


def test_a_second_active_grant_is_a_conflict(browser: TestClient, cast: Cast) -> None:
    log_in(browser, cast.enterprise.id)
    again = browser.post("/portal/enterprise/authorisations",
                         data=_grant_form(browser, bank_code=cast.scenario.bank_a.code))
    assert again.status_code == 409 and f"Authorisation {cast.scenario.grant.id}" in again.text


def test_revoking_takes_effect_at_once(browser: TestClient, cast: Cast, db: Session) -> None:
    log_in(browser, cast.enterprise.id)
    grant_id = cast.scenario.grant.id
    page = browser.get("/portal/enterprise/authorisations")
    response = browser.post(f"/portal/enterprise/authorisations/{grant_id}/revoke",
                            data={"csrf_token": csrf_of(page)})
    assert response.status_code == 303
    db.expire_all()
    assert db.get(Authorisation, grant_id).revoked_at is not None  # type: ignore[union-attr]
    receipt = db.scalars(select(AuthorisationChange).where(AuthorisationChange.authorisation_id == grant_id,
                                                           AuthorisationChange.kind == "revoked")).one()
    assert receipt.account_id == cast.enterprise.id  # the receipt names who revoked, as the API's does
    assert f'data-grant="{grant_id}" data-status="revoked"' in browser.get(response.headers["location"]).text
    assert browser.post("/v1/scores", json={"uscc": cast.scenario.uscc},
                        headers=bearer(cast.scenario.bank_a_key)).status_code == 403


def test_an_enterprise_cannot_revoke_or_see_another_enterprises_grant(
    browser: TestClient, cast: Cast, db: Session
) -> None:
    log_in(browser, cast.other_enterprise.id)
    page = browser.get("/portal/enterprise/authorisations")
    assert f'data-grant="{cast.scenario.grant.id}"' not in page.text
    response = browser.post(f"/portal/enterprise/authorisations/{cast.scenario.grant.id}/revoke",
                            data={"csrf_token": csrf_of(page)})
    assert response.status_code == 404
    db.expire_all()
    assert db.get(Authorisation, cast.scenario.grant.id).revoked_at is None  # type: ignore[union-attr]
    assert cast.scenario.uscc not in browser.get("/portal/enterprise/access-log").text


def test_access_log_lists_the_banks_request(browser: TestClient, cast: Cast) -> None:
    browser.post("/v1/scores", json={"uscc": cast.scenario.uscc}, headers=bearer(cast.scenario.bank_a_key))
    browser.post("/v1/scores", json={"uscc": cast.scenario.uscc}, headers=bearer(cast.scenario.bank_b_key))
    log_in(browser, cast.enterprise.id)
    page = browser.get("/portal/enterprise/access-log").text
    assert cast.scenario.bank_a.name in page and cast.scenario.bank_b.name in page
    assert "(403)" in page and "(200)" in page
    log_in(browser, cast.other_enterprise.id)
    assert cast.scenario.bank_a.name not in browser.get("/portal/enterprise/access-log").text


def test_filing_an_objection(browser: TestClient, cast: Cast, db: Session) -> None:
    log_in(browser, cast.enterprise.id)
    page = browser.get("/portal/enterprise/objections")
    response = browser.post("/portal/enterprise/objections", data={
        "csrf_token": csrf_of(page), "source": "admin_records", "record_key": "闽榕市监罚〔2025〕123号",
        "reason": "该处罚已于2025年12月完成信用修复。"})
    assert response.status_code == 303
    objection = db.scalars(select(Objection)).one()
    assert (objection.uscc, objection.status, objection.submitted_by_account_id) == (
        cast.scenario.uscc, "submitted", cast.enterprise.id)
    assert "闽榕市监罚〔2025〕123号" in browser.get(response.headers["location"]).text
    refused = browser.post("/portal/enterprise/objections", data={
        "csrf_token": csrf_of(page), "source": "horoscope", "record_key": "x", "reason": "no reason at all"})
    assert refused.status_code == 422 and "objection.source_unknown" in refused.text
    assert len(db.scalars(select(Objection)).all()) == 1


def test_every_page_read_leaves_an_audit_row_naming_the_enterprise(
    browser: TestClient, cast: Cast, db: Session
) -> None:
    log_in(browser, cast.enterprise.id)
    pages = {"portal.score": "/portal/enterprise/score", "portal.authorisations": "/portal/enterprise/authorisations",
             "portal.access_log": "/portal/enterprise/access-log", "portal.objections": "/portal/enterprise/objections"}
    for path in pages.values():
        assert browser.get(path).status_code == 200
    rows = db.scalars(select(AuditEvent).where(AuditEvent.action.in_(pages))).all()
    assert sorted(r.action for r in rows) == sorted(pages)
    assert {(r.uscc, r.actor_account_id, r.actor_role, r.outcome) for r in rows} == {
        (cast.scenario.uscc, cast.enterprise.id, "enterprise", "allowed")}


def test_roles_see_only_their_own_pages(browser: TestClient, cast: Cast, db: Session) -> None:
    log_in(browser, cast.enterprise.id)
    assert browser.get("/portal/regulator/coverage").status_code == 403
    assert browser.get("/portal/regulator/coverage.csv").status_code == 403
    log_in(browser, cast.regulator.id)
    assert browser.get("/portal/enterprise/score").status_code == 403
    denied = db.scalars(select(AuditEvent).where(AuditEvent.outcome == "denied",
                                                 AuditEvent.action.like("portal.%"))).all()
    assert {(r.action, r.actor_role) for r in denied} >= {("portal.regulator.coverage", "enterprise"),
                                                          ("portal.score", "regulator")}
