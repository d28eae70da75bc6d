"""授权管理: an enterprise grants, lists and revokes banks' access; revocation takes effect at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, status
from sqlalchemy import select

from api.audit import note_detail
from api.db.models import Authorisation, Bank, utcnow
from api.deps import AppSettings, CurrentEnterprise, DbSession
from api.errors import Conflict, FieldError, NotFound, ValidationProblem
from api.routers.problems import problem_responses
from api.schemas import AuthorisationCreate, AuthorisationOut

router = APIRouter(prefix="/v1/enterprise/authorisations", tags=["enterprise"])


def receipt(grant: Authorisation, bank: Bank) -> AuthorisationOut:
    """The receipt of a grant, with its current status."""
    now = utcnow()
    state: Literal["active", "expired", "revoked"] = (
        "revoked" if grant.revoked_at is not None else ("active" if grant.expires_at > now else "expired")
    )
    return AuthorisationOut(
        id=grant.id,
        uscc=grant.uscc,
        bank_code=bank.code,
        bank_name=bank.name,
        purpose=grant.purpose,
        scopes=list(grant.scopes),
        granted_at=grant.granted_at,
        expires_at=grant.expires_at,
        revoked_at=grant.revoked_at,
        status=state,
    )


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
    days = body.days if body.days is not None else settings.authorisation_days_default
    if days > settings.authorisation_days_max:
        raise ValidationProblem(
            f"A grant lasts at most {settings.authorisation_days_max} days.",
            [FieldError("days", "authorisation.days_max", f"at most {settings.authorisation_days_max} days")],
        )
    bank = session.scalars(select(Bank).where(Bank.code == body.bank_code)).first()
    if bank is None:
        raise ValidationProblem(
            "No bank with this code is connected to the platform.",
            [FieldError("bank_code", "bank_code.unknown", "no bank with this code")],
        )
    assert enterprise.uscc is not None  # guaranteed by CurrentEnterprise
    now = utcnow()
    existing = session.scalars(
        select(Authorisation).where(
            Authorisation.uscc == enterprise.uscc,
            Authorisation.bank_id == bank.id,
            Authorisation.purpose == body.purpose,
            Authorisation.revoked_at.is_(None),
            Authorisation.expires_at > now,
        )
    ).first()
    if existing is not None:
        raise Conflict(f"Authorisation {existing.id} for this bank and purpose is still active; revoke it first.")
    grant = Authorisation(
        uscc=enterprise.uscc,
        bank_id=bank.id,
        purpose=body.purpose,
        scopes=sorted(set(body.scopes)),
        granted_at=now,
        expires_at=now + timedelta(days=days),
        granted_by_account_id=enterprise.id,
    )
    session.add(grant)
    session.commit()
    return receipt(grant, bank)


@router.get(
    "",
    name="authorisation.list",
    summary="List this enterprise's grants",
    responses=problem_responses(401, 403),
)
def list_authorisations(enterprise: CurrentEnterprise, session: DbSession) -> list[AuthorisationOut]:
    """Every grant this enterprise has made, newest first, active or not."""
    rows = session.execute(
        select(Authorisation, Bank)
        .join(Bank, Bank.id == Authorisation.bank_id)
        .where(Authorisation.uscc == enterprise.uscc)
        .order_by(Authorisation.granted_at.desc(), Authorisation.id.desc())
    ).all()
    return [receipt(grant, bank) for grant, bank in rows]


def own_authorisation(
    authorisation_id: int, request: Request, enterprise: CurrentEnterprise, session: DbSession
) -> Authorisation:
    """A grant this enterprise made; 404 for unknown ids and other enterprises' grants alike."""
    grant = session.get(Authorisation, authorisation_id)
    if grant is None or grant.uscc != enterprise.uscc:
        raise NotFound("No authorisation with this id was made by this enterprise.")
    note_detail(request, f"authorisation {grant.id}")
    return grant


OwnAuthorisation = Annotated[Authorisation, Depends(own_authorisation)]


@router.delete(
    "/{authorisation_id}",
    name="authorisation.revoke",
    summary="Revoke a grant at once",
    responses=problem_responses(401, 403, 404, 422),
)
def revoke_authorisation(grant: OwnAuthorisation, session: DbSession) -> AuthorisationOut:
    """Revoke the grant (idempotent); the bank is refused from the next request on."""
    if grant.revoked_at is None:
        grant.revoked_at = utcnow()
        session.commit()
    bank = session.get(Bank, grant.bank_id)
    assert bank is not None  # foreign key
    return receipt(grant, bank)
