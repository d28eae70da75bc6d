"""授权管理: an enterprise grants, lists, changes and revokes banks' access; every step leaves a receipt, and a
revocation or narrowing takes effect at once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from sqlalchemy import select

from api import grants
from api.audit import note_detail
from api.db.models import Authorisation, Bank
from api.deps import AppSettings, CurrentEnterprise, DbSession, RowId
from api.pagination import PAGE_HEADERS, CursorPagination, announce_next, keyset, page_rows
from api.routers.problems import problem_responses
from api.schemas import AuthorisationChangeIn, AuthorisationCreate, AuthorisationOut

router = APIRouter(prefix="/v1/enterprise/authorisations", tags=["enterprise"])


@router.post(
    "",
    name="authorisation.create",
    status_code=status.HTTP_201_CREATED,
    summary="Authorise a bank",
    responses=problem_responses(401, 403, 409, 422),
)
def create_authorisation(
    body: AuthorisationCreate, enterprise: CurrentEnterprise, session: DbSession, settings: AppSettings
) -> AuthorisationOut:
    """Grant one bank access for one purpose and scopes; the response is the receipt."""
    return grants.grant_authorisation(session, settings, enterprise, bank_code=body.bank_code, purpose=body.purpose,
                                      scopes=body.scopes, days=body.days)


@router.get(
    "",
    name="authorisation.list",
    summary="List this enterprise's grants",
    responses={200: {"headers": PAGE_HEADERS}, **problem_responses(401, 403, 422)},
)
def list_authorisations(
    enterprise: CurrentEnterprise, session: DbSession, page: CursorPagination, request: Request, response: Response
) -> list[AuthorisationOut]:
    """Every grant this enterprise has made, newest first, active or not, one page at a time."""
    query = select(Authorisation, Bank).join(Bank, Bank.id == Authorisation.bank_id).where(
        Authorisation.uscc == enterprise.uscc)
    found = session.execute(keyset(query, page, [Authorisation.granted_at, Authorisation.id], descending=True)).all()
    rows, next_cursor = page_rows(found, page, lambda row: [row[0].granted_at, row[0].id])
    announce_next(request, response, next_cursor)
    return [grants.receipt(grant, bank) for grant, bank in rows]


def own_authorisation(
    authorisation_id: RowId, request: Request, enterprise: CurrentEnterprise, session: DbSession
) -> Authorisation:
    """A grant this enterprise made; 404 for unknown ids and other enterprises' grants alike."""
    assert enterprise.uscc is not None  # guaranteed by CurrentEnterprise
    grant = grants.own_authorisation(session, enterprise.uscc, authorisation_id)
    note_detail(request, f"authorisation {grant.id}")
    return grant


OwnAuthorisation = Annotated[Authorisation, Depends(own_authorisation)]


@router.delete(
    "/{authorisation_id}",
    name="authorisation.revoke",
    summary="Revoke a grant at once",
    responses=problem_responses(401, 403, 404, 422),
)
def revoke_authorisation(
    grant: OwnAuthorisation, enterprise: CurrentEnterprise, session: DbSession
) -> AuthorisationOut:
    """Revoke the grant (idempotent); the bank is refused from the next request on. The receipt's `history`
    records the revocation."""
    return grants.revoke_authorisation(session, grant, by=enterprise)


@router.patch(
    "/{authorisation_id}",
    name="authorisation.change",
    summary="Change an active grant's scopes or validity",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def change_authorisation(
    body: AuthorisationChangeIn, grant: OwnAuthorisation, enterprise: CurrentEnterprise, session: DbSession,
    settings: AppSettings,
) -> AuthorisationOut:
    """Narrow or widen the scopes, or set the validity to `days` from now (at most the platform maximum); the
    bank sees the new terms from its next request, and the receipt's `history` records the change."""
    return grants.change_authorisation(session, settings, grant, enterprise, scopes=body.scopes, days=body.days)
