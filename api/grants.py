"""授权管理 without HTTP: grant, list and revoke an enterprise's authorisations, with their receipts.

The API router (``api.routers.authorisations``) and the portal both call these, so the rules (longest validity,
known bank, one active grant per bank and purpose, idempotent revocation) live in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session, object_session

from api.db.models import Account, Authorisation, AuthorisationChange, Bank, utcnow
from api.errors import Conflict, FieldError, NotFound, ValidationProblem
from api.schemas import AuthorisationEventOut, AuthorisationOut
from config.settings import Settings


def grant_is_active(bank_id: Any, purpose: Any, now: Any) -> ColumnElement[bool]:
    """A grant to ``bank_id`` for ``purpose``, neither revoked nor expired at ``now`` (values or bind
    parameters): the one statement of what an active grant is, for every query that checks one (scoring and
    loan reports in ``api.deps``, a new grant's conflict check here, the demo's seeding)."""
    return and_(
        Authorisation.bank_id == bank_id,
        Authorisation.purpose == purpose,
        Authorisation.revoked_at.is_(None),
        Authorisation.expires_at > now,
    )


def receipt(grant: Authorisation, bank: Bank) -> AuthorisationOut:
    """The receipt of a grant (授权回执), with its current status."""
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
        history=history(grant),
    )


def _event(kind: str, terms: AuthorisationChange | Authorisation, at: datetime) -> AuthorisationEventOut:
    return AuthorisationEventOut.model_validate(
        {"event": kind, "at": at, "scopes": list(terms.scopes), "expires_at": terms.expires_at}
    )


def history(grant: Authorisation) -> list[AuthorisationEventOut]:
    """The grant's receipts, oldest first: its stored changes, and its expiry once passed (derived, not stored)."""
    session = object_session(grant)
    changes = [] if session is None or grant.id is None else list(session.scalars(
        select(AuthorisationChange).where(AuthorisationChange.authorisation_id == grant.id)
        .order_by(AuthorisationChange.at, AuthorisationChange.id)
    ))
    events = [_event(c.kind, c, c.at) for c in changes]
    if not any(c.kind == "granted" for c in changes):  # a grant stored without its receipt (loaded directly)
        events.insert(0, _event("granted", grant, grant.granted_at))
    if grant.expires_at <= utcnow() and (grant.revoked_at is None or grant.revoked_at > grant.expires_at):
        events.append(_event("expired", grant, grant.expires_at))
    return sorted(events, key=lambda e: e.at)


def _record(
    session: Session, grant: Authorisation, kind: str, account_id: int | None, at: datetime | None = None
) -> None:
    """Store the receipt of ``kind`` with the grant's terms as they now stand."""
    session.add(AuthorisationChange(authorisation_id=grant.id, kind=kind, at=at or utcnow(), account_id=account_id,
                                    scopes=list(grant.scopes), expires_at=grant.expires_at))


def _days(settings: Settings, days: int | None) -> int:
    days = days if days is not None else settings.authorisation_days_default
    if days > settings.authorisation_days_max:
        raise ValidationProblem(
            f"A grant lasts at most {settings.authorisation_days_max} days.",
            [FieldError("days", "authorisation.days_max", f"at most {settings.authorisation_days_max} days")],
        )
    return days


def grant_authorisation(
    session: Session,
    settings: Settings,
    enterprise: Account,
    *,
    bank_code: str,
    purpose: str,
    scopes: Sequence[str],
    days: int | None,
) -> AuthorisationOut:
    """Grant one bank access for one purpose and scopes and commit; 422 for an unknown bank or too many days,
    409 while a grant for the same bank and purpose is still active."""
    days = _days(settings, days)
    bank = session.scalars(select(Bank).where(Bank.code == bank_code)).first()
    if bank is None:
        raise ValidationProblem(
            "No bank with this code is connected to the platform.",
            [FieldError("bank_code", "bank_code.unknown", "no bank with this code")],
        )
    if enterprise.uscc is None:
        raise ValueError("only an account linked to an enterprise grants authorisations")
    now = utcnow()
    existing = session.scalars(
        select(Authorisation).where(Authorisation.uscc == enterprise.uscc, grant_is_active(bank.id, purpose, now))
    ).first()
    if existing is not None:
        raise Conflict(f"Authorisation {existing.id} for this bank and purpose is still active; revoke it first.")
    grant = Authorisation(
        uscc=enterprise.uscc,
        bank_id=bank.id,
        purpose=purpose,
        scopes=sorted(set(scopes)),
        granted_at=now,
        expires_at=now + timedelta(days=days),
        granted_by_account_id=enterprise.id,
    )
    session.add(grant)
    session.flush()
    _record(session, grant, "granted", enterprise.id)
    session.commit()
    return receipt(grant, bank)


def list_authorisations(session: Session, uscc: str) -> list[AuthorisationOut]:
    """Every grant the enterprise has made, newest first, active or not."""
    rows = session.execute(
        select(Authorisation, Bank)
        .join(Bank, Bank.id == Authorisation.bank_id)
        .where(Authorisation.uscc == uscc)
        .order_by(Authorisation.granted_at.desc(), Authorisation.id.desc())
    ).all()
    return [receipt(grant, bank) for grant, bank in rows]


def own_authorisation(session: Session, uscc: str, authorisation_id: int) -> Authorisation:
    """A grant this enterprise made; 404 for unknown ids and other enterprises' grants alike."""
    grant = session.get(Authorisation, authorisation_id)
    if grant is None or grant.uscc != uscc:
        raise NotFound("No authorisation with this id was made by this enterprise.")
    return grant


def revoke_authorisation(session: Session, grant: Authorisation, by: Account | None = None) -> AuthorisationOut:
    """Revoke the grant at once (idempotent) and commit, with its receipt; the bank is refused from its next
    request on."""
    if grant.revoked_at is None:
        grant.revoked_at = utcnow()
        _record(session, grant, "revoked", by.id if by is not None else None)
        session.commit()
    bank = session.get(Bank, grant.bank_id)
    assert bank is not None  # foreign key
    return receipt(grant, bank)


def change_authorisation(
    session: Session,
    settings: Settings,
    grant: Authorisation,
    by: Account,
    *,
    scopes: Sequence[str] | None,
    days: int | None,
) -> AuthorisationOut:
    """Change an active grant's scopes and/or validity (``days`` from now, at most the maximum) and commit, with
    its receipt; narrower scopes bind from the bank's next request. 409 for a revoked or expired grant, 422 when
    nothing would change."""
    if not grant.is_active(utcnow()):
        raise Conflict("Only an active grant can be changed; grant the bank again instead.")
    if scopes is None and days is None:
        raise ValidationProblem("Name what changes: scopes, days or both.",
                                [FieldError("body", "authorisation.change_empty", "give scopes, days or both")])
    granted_receipt = session.scalars(select(AuthorisationChange.id).where(
        AuthorisationChange.authorisation_id == grant.id, AuthorisationChange.kind == "granted")).first()
    if granted_receipt is None:  # a grant stored without its receipt: keep the terms it was granted on
        _record(session, grant, "granted", grant.granted_by_account_id, at=grant.granted_at)
        session.flush()
    if days is not None:
        grant.expires_at = utcnow() + timedelta(days=_days(settings, days))
    if scopes is not None:
        grant.scopes = sorted(set(scopes))
    _record(session, grant, "changed", by.id)
    session.commit()
    bank = session.get(Bank, grant.bank_id)
    assert bank is not None  # foreign key
    return receipt(grant, bank)
