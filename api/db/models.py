"""Typed ORM tables of the service database (SQLAlchemy 2)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from api.db.ids import uuid7_now

ROLES = ("operator", "bank", "enterprise", "regulator", "analyst")
PURPOSES = ("pre_credit", "post_loan")
OUTCOMES = ("allowed", "denied", "error")
DECISIONS = ("approve", "refer", "decline")
LOAN_EVENT_TYPES = ("application", "approval", "disbursement", "repayment", "overdue", "default", "closure")
CREDIT_TYPES = ("credit", "secured")
OBJECTION_STATUSES = ("submitted", "in_review", "corrected", "rejected")
REVIEW_STATUSES = ("submitted",)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused; pass a timezone-aware value")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    """Declarative base of every service table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


class Enterprise(Base):
    """企业: one registered enterprise, keyed by its USCC."""

    __tablename__ = "enterprises"

    uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str | None] = mapped_column(String(6))
    industry: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[str | None] = mapped_column(String(20))


class Bank(Base):
    """金融机构: a bank connected to the platform."""

    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(40), unique=True)


class Account(Base):
    """A user of the API: operator, bank, enterprise, regulator or analyst."""

    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="ck_accounts_role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    role: Mapped[str] = mapped_column(String(20))
    display_name: Mapped[str] = mapped_column(String(200))
    bank_id: Mapped[int | None] = mapped_column(ForeignKey("banks.id"), index=True)
    uscc: Mapped[str | None] = mapped_column(ForeignKey("enterprises.uscc"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]
    password_hash: Mapped[str | None] = mapped_column(String(200))
    """Portal login (enterprise and regulator only): argon2id of the peppered password; null: no portal login."""


class PortalSession(Base):
    """A portal login: the signed cookie names ``id`` (a SHA-256 of its token); logout sets ``ended_at``."""

    __tablename__ = "portal_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class ApiKey(Base):
    """An API key: the public ``key_id`` and an argon2id hash of the peppered secret, never the secret."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    """Refused from this moment on; null: valid until revoked (rotation: issue a new key, then revoke or expire
    the old one)."""


class Authorisation(Base):
    """授权: an enterprise's consent for one bank, purpose and scopes, until it expires or is revoked."""

    __tablename__ = "authorisations"
    __table_args__ = (
        CheckConstraint(_in("purpose", PURPOSES), name="ck_authorisations_purpose"),
        Index("ix_authorisations_uscc_bank", "uscc", "bank_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uscc: Mapped[str] = mapped_column(ForeignKey("enterprises.uscc"))
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    purpose: Mapped[str] = mapped_column(String(20))
    scopes: Mapped[list[str]]
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    granted_by_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))

    def is_active(self, at: datetime) -> bool:
        """True when not revoked and not yet expired at ``at``."""
        return self.revoked_at is None and self.expires_at > at


AUTHORISATION_CHANGES = ("granted", "changed", "revoked")


class AuthorisationChange(Base):
    """授权回执: one change of a grant (granted, changed, revoked), when, by whom, and its scopes and expiry after
    it. Expiry needs no row: it happens at ``expires_at`` and is listed from there."""

    __tablename__ = "authorisation_changes"
    __table_args__ = (CheckConstraint(_in("kind", AUTHORISATION_CHANGES), name="ck_authorisation_changes_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    authorisation_id: Mapped[int] = mapped_column(ForeignKey("authorisations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    scopes: Mapped[list[str]]
    expires_at: Mapped[datetime]


class EnterpriseProfile(Base):
    """企业画像: model-independent features of one enterprise as of one date."""

    __tablename__ = "enterprise_profiles"

    uscc: Mapped[str] = mapped_column(ForeignKey("enterprises.uscc"), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    features: Mapped[dict[str, Any]]
    policy_facts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """Records in force and revenue evidence as of the same date (``scoring.facts``); null: never computed."""


class AuditEvent(Base):
    """One row per /v1 request, allowed, denied or errored; never holds a key or secret.

    Append-only and hash-chained (``api.audit_chain``): ``seq`` is the position in the chain, ``row_hash`` a
    SHA-256 over the row's fields and ``prev_hash``, the previous row's ``row_hash``.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        CheckConstraint(_in("outcome", OUTCOMES), name="ck_audit_events_outcome"),
        Index("ix_audit_events_uscc_at", "uscc", "at"),
        Index("ux_audit_events_seq", "seq", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    request_id: Mapped[str] = mapped_column(String(64))
    actor_account_id: Mapped[int | None] = mapped_column(Integer)
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(80))
    uscc: Mapped[str | None] = mapped_column(String(18))
    outcome: Mapped[str] = mapped_column(String(10))
    http_status: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(String(200))
    seq: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The one row naming the newest audit row (its ``seq`` and ``row_hash``); appends lock it, so the chain is
    extended by one writer at a time, and a verifier can tell when the newest rows were deleted."""

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="ck_audit_chain_head_single"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


class ScoreResponse(Base):
    """A pre-credit score given to a bank, kept exactly as returned.

    PD, score and grade are null when the enterprise was unscorable (``insufficient_data`` says why); the
    decision columns are null on scores given before decisions existed.
    """

    __tablename__ = "score_responses"
    __table_args__ = (CheckConstraint(_in("decision", DECISIONS), name="ck_score_responses_decision"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7_now)
    """Version 7: the time it was given is in the id (``api.db.ids``), so a read after retention can say so."""
    uscc: Mapped[str] = mapped_column(ForeignKey("enterprises.uscc"), index=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    probability_of_default: Mapped[float | None] = mapped_column(Float)
    score: Mapped[int | None] = mapped_column(Integer)
    grade: Mapped[str | None] = mapped_column(String(10))
    reasons: Mapped[dict[str, Any]]
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(50))
    profile_as_of: Mapped[date] = mapped_column(Date)
    requested_amount: Mapped[float | None] = mapped_column(Float)
    decision: Mapped[str | None] = mapped_column(String(10))
    pre_credit_limit: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    policy_hits: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    rule_set_version: Mapped[str | None] = mapped_column(String(40))
    insufficient_data: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    withheld_scopes: Mapped[list[str] | None] = mapped_column(JSON)
    """Data scopes the grant left out when this answer was given (``scoring.scopes``); null: none."""


class RetentionMark(Base):
    """How far a table has been pruned under its retention period: rows older than ``pruned_before`` are gone
    (``api.retention``), so a read of one can be answered "no longer kept" rather than "not found"."""

    __tablename__ = "retention_marks"

    subject: Mapped[str] = mapped_column(String(40), primary_key=True)
    pruned_before: Mapped[datetime]
    pruned_at: Mapped[datetime]


class Loan(Base):
    """回传: a loan a bank reports on, named by the bank's own loan id, for one enterprise."""

    __tablename__ = "loans"
    __table_args__ = (UniqueConstraint("bank_id", "bank_loan_id", name="uq_loans_bank_loan"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    bank_loan_id: Mapped[str] = mapped_column(String(64))
    uscc: Mapped[str] = mapped_column(ForeignKey("enterprises.uscc"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoanEvent(Base):
    """One reported event of a loan, stored once per (loan, type, date, sequence): the idempotency key.

    ``payload`` is the event exactly as the bank sent it (the same key with another payload is a conflict);
    the typed columns beside it serve queries such as the default labels (``api.loans``).
    """

    __tablename__ = "loan_events"
    __table_args__ = (
        UniqueConstraint("loan_id", "event_type", "event_date", "sequence", name="uq_loan_events_key"),
        CheckConstraint(_in("event_type", LOAN_EVENT_TYPES), name="ck_loan_events_type"),
        CheckConstraint(_in("credit_type", CREDIT_TYPES), name="ck_loan_events_credit_type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(20))
    event_date: Mapped[date] = mapped_column(Date)
    sequence: Mapped[int] = mapped_column(Integer)
    amount: Mapped[float | None] = mapped_column(Float)
    term_months: Mapped[int | None] = mapped_column(Integer)
    annual_rate: Mapped[float | None] = mapped_column(Float)
    credit_type: Mapped[str | None] = mapped_column(String(10))
    days_past_due: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]]
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
    reported_by_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    authorisation_id: Mapped[int] = mapped_column(ForeignKey("authorisations.id"))
    request_id: Mapped[str] = mapped_column(String(64))


class Objection(Base):
    """异议: an enterprise disputes one record (source + record key); tracked to corrected or rejected."""

    __tablename__ = "objections"
    __table_args__ = (
        CheckConstraint(_in("status", OBJECTION_STATUSES), name="ck_objections_status"),
        Index("ix_objections_uscc_status", "uscc", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uscc: Mapped[str] = mapped_column(ForeignKey("enterprises.uscc"))
    source: Mapped[str] = mapped_column(String(40))
    record_key: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_by_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    decision_note: Mapped[str | None] = mapped_column(Text)


class ObjectionChange(Base):
    """The receipt of one state change of an objection: to which status, when, by whom, with what note."""

    __tablename__ = "objection_changes"
    __table_args__ = (CheckConstraint(_in("status", OBJECTION_STATUSES), name="ck_objection_changes_status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    objection_id: Mapped[int] = mapped_column(ForeignKey("objections.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    note: Mapped[str | None] = mapped_column(Text)


class ReviewRequest(Base):
    """PIPL Art. 24: an enterprise asks for human review of an automated decision (one stored score)."""

    __tablename__ = "review_requests"
    __table_args__ = (CheckConstraint(_in("status", REVIEW_STATUSES), name="ck_review_requests_status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uscc: Mapped[str] = mapped_column(ForeignKey("enterprises.uscc"), index=True)
    score_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("score_responses.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_by_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
