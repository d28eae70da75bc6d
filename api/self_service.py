"""Enterprise self-service without HTTP: its profile in words, who accessed its data, and objections (异议).

- :func:`profile_summary`: the latest profile (企业画像) feature by feature, in the catalogue's Chinese and English
  words, each flagged while an objection to a record of its source is open.
- :func:`access_log`: the audit rows about the enterprise written by anyone else, with the bank and the grant
  that was in force for it at that moment (an allowed bank request always had one; the grant is found again
  from the authorisations table rather than trusted from a free-text field).
- :func:`move_objection`: the objection's life (submitted → in_review → corrected | rejected), one receipt
  (``objection_changes``) per state change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db.models import (
    Account,
    AuditEvent,
    Authorisation,
    Bank,
    EnterpriseProfile,
    Objection,
    ObjectionChange,
    utcnow,
)
from api.errors import Conflict, FieldError, ValidationProblem
from features.catalogue import FEATURE_SPECS
from features.schemas import SOURCES_BY_NAME

OPEN_STATUSES = ("submitted", "in_review")
TRANSITIONS: dict[str, tuple[str, ...]] = {"submitted": ("in_review",), "in_review": ("corrected", "rejected")}
"""Where an objection may go from each state; corrected and rejected are final."""
NOTE_REQUIRED = ("corrected", "rejected")
OBJECTION_SOURCES = tuple(SOURCES_BY_NAME)
"""Records an enterprise may dispute: any of the public-credit sources the platform ingests."""

ACTION_TEXTS: dict[str, str] = {
    "score.create": "查询预授信评分 / requested a pre-credit score",
    "score.read": "调阅已出具的评分 / read back a score it was given",
    "score.create_batch_item": "批量查询评分 / requested a score in a batch",
    "loan.report": "报送贷款信息 (回传) / reported a loan event",
    "loan.report_batch_item": "批量报送贷款信息 (回传) / reported a loan event in a batch",
    "loan.read": "调阅报送的贷款 / read back a reported loan",
    "objection.list": "查看异议 / listed objections",
    "objection.decide": "处理异议 / worked on an objection",
    "review.list": "查看人工复核申请 / listed review requests",
}
"""What each audited action means, in words the enterprise reads."""
ACTION_PURPOSES: dict[str, tuple[str, ...]] = {
    "score.create": ("pre_credit",),
    "score.read": ("pre_credit",),
    "score.create_batch_item": ("pre_credit", "post_loan"),
    "loan.report": ("pre_credit", "post_loan"),
    "loan.report_batch_item": ("pre_credit", "post_loan"),
    "loan.read": ("pre_credit", "post_loan"),
}
"""The grant purposes under which a bank may take each action."""


def latest_profile(session: Session, uscc: str) -> EnterpriseProfile | None:
    """The enterprise's newest stored profile, or None."""
    return session.scalars(
        select(EnterpriseProfile)
        .where(EnterpriseProfile.uscc == uscc)
        .order_by(EnterpriseProfile.as_of.desc())
        .limit(1)
    ).first()


def open_objections(session: Session, uscc: str) -> list[Objection]:
    """The enterprise's objections not yet decided, oldest first."""
    return list(
        session.scalars(
            select(Objection)
            .where(Objection.uscc == uscc, Objection.status.in_(OPEN_STATUSES))
            .order_by(Objection.id)
        )
    )


def feature_rows(features: dict[str, Any], disputed_sources: set[str]) -> list[dict[str, Any]]:
    """Each feature of a profile in words, in catalogue order; features the catalogue no longer declares are
    shown under their own name rather than hidden."""
    rows = []
    for name, spec in FEATURE_SPECS.items():
        if name in features:
            value = features[name]
            text_zh, text_en = spec.reason_texts(value)
            rows.append({"name": name, "source": spec.source, "label_zh": spec.label_zh, "label_en": spec.label_en,
                         "value": value, "text_zh": text_zh, "text_en": text_en,
                         "disputed": spec.source in disputed_sources})
    for name in sorted(set(features) - set(FEATURE_SPECS)):
        value = features[name]
        words = "无数据 / no data" if value is None else f"{value:g}"
        rows.append({"name": name, "source": "unknown", "label_zh": name, "label_en": name, "value": value,
                     "text_zh": f"{name}: {words}", "text_en": f"{name}: {words}", "disputed": False})
    return rows


def profile_summary(session: Session, uscc: str) -> dict[str, Any] | None:
    """The latest profile in words with the records under open objection; None when there is no profile."""
    profile = latest_profile(session, uscc)
    if profile is None:
        return None
    disputed = open_objections(session, uscc)
    return {
        "uscc": uscc,
        "as_of": profile.as_of,
        "features": feature_rows(profile.features, {o.source for o in disputed}),
        "disputed_records": [
            {"objection_id": o.id, "source": o.source, "record_key": o.record_key, "status": o.status}
            for o in disputed
        ],
    }


def grant_in_force(grants: Sequence[Authorisation], bank_id: int, at: datetime, action: str) -> int | None:
    """The id of the bank's grant that was active at ``at`` for the action's purpose, if any."""
    purposes = ACTION_PURPOSES.get(action, ("pre_credit", "post_loan"))
    for grant in grants:
        if (
            grant.bank_id == bank_id
            and grant.purpose in purposes
            and grant.granted_at <= at < grant.expires_at
            and (grant.revoked_at is None or at < grant.revoked_at)
        ):
            return grant.id
    return None


@dataclass(frozen=True)
class AccessPage:
    """One page of the access log and the total number of rows."""

    items: list[dict[str, Any]]
    total: int


def access_log(session: Session, uscc: str, *, offset: int, limit: int, before_id: int | None = None) -> AccessPage:
    """Audit rows about ``uscc`` written by any other party, newest first, one page at a time (rows older than
    audit row ``before_id`` only, when given: the keyset of the API's cursor)."""
    about = (AuditEvent.uscc == uscc, AuditEvent.actor_role != "enterprise")
    total = int(session.scalar(select(func.count()).select_from(AuditEvent).where(*about)) or 0)
    older = (AuditEvent.id < before_id,) if before_id is not None else ()
    rows = session.execute(
        select(AuditEvent, Bank)
        .outerjoin(Account, Account.id == AuditEvent.actor_account_id)
        .outerjoin(Bank, Bank.id == Account.bank_id)
        .where(*about, *older)
        .order_by(AuditEvent.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    grants = session.scalars(select(Authorisation).where(Authorisation.uscc == uscc)).all()
    items = [
        {
            "id": event.id,
            "at": event.at,
            "request_id": event.request_id,
            "actor_role": event.actor_role,
            "bank_code": bank.code if bank else None,
            "bank_name": bank.name if bank else None,
            "action": event.action,
            "action_text": ACTION_TEXTS.get(event.action, event.action),
            "outcome": event.outcome,
            "http_status": event.http_status,
            "authorisation_id": grant_in_force(grants, bank.id, event.at, event.action)
            if bank is not None and event.outcome == "allowed"
            else None,
        }
        for event, bank in rows
    ]
    return AccessPage(items, total)


def submit_objection(session: Session, *, uscc: str, account_id: int, source: str, record_key: str,
                     reason: str) -> Objection:
    """File an objection to one record; 422 for an unknown source, 409 while one on the same record is open.
    Commits, with the first receipt."""
    if source not in OBJECTION_SOURCES:
        raise ValidationProblem(
            "Objections name one of the platform's record sources.",
            [FieldError("source", "objection.source_unknown", f"one of {', '.join(OBJECTION_SOURCES)}")],
        )
    if any(o.source == source and o.record_key == record_key for o in open_objections(session, uscc)):
        raise Conflict("An objection to this record is already open.")
    now = utcnow()
    objection = Objection(uscc=uscc, source=source, record_key=record_key, reason=reason, status="submitted",
                          submitted_at=now, submitted_by_account_id=account_id, updated_at=now)
    session.add(objection)
    session.flush()
    session.add(ObjectionChange(objection_id=objection.id, status="submitted", at=now, account_id=account_id))
    session.commit()
    return objection


def move_objection(session: Session, objection: Objection, *, to: str, account_id: int, note: str | None) -> None:
    """Move an objection one step (``TRANSITIONS``) and keep the receipt; commits.

    409 for a step its state does not allow; 422 when a final decision comes without a note.
    """
    if to not in TRANSITIONS.get(objection.status, ()):
        raise Conflict(f"An objection that is {objection.status} cannot move to {to}.")
    if to in NOTE_REQUIRED and not note:
        raise ValidationProblem(
            "A decision says why.", [FieldError("note", "objection.note_required", f"a note is needed to {to}")]
        )
    now = utcnow()
    objection.status, objection.updated_at = to, now
    if to in NOTE_REQUIRED:
        objection.decision_note = note
    session.add(ObjectionChange(objection_id=objection.id, status=to, at=now, account_id=account_id, note=note))
    session.commit()


def history(session: Session, objection_ids: Sequence[int]) -> dict[int, list[ObjectionChange]]:
    """Every receipt of the given objections, in order, by objection id."""
    out: dict[int, list[ObjectionChange]] = {i: [] for i in objection_ids}
    if objection_ids:
        changes = session.scalars(
            select(ObjectionChange)
            .where(ObjectionChange.objection_id.in_(objection_ids))
            .order_by(ObjectionChange.id)
        )
        for change in changes:
            out[change.objection_id].append(change)
    return out
