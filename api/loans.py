"""回传: banks' loan reports stored once per idempotency key, checked for order, and turned into default labels.

A loan is named by the reporting bank's own id; each event is stored once per (bank, loan id, type, date,
sequence). The same event sent again, even at the same moment from two connections, returns the stored one;
another payload under the same key is a conflict. Events are checked field by field (which fields each type
needs) and against the loan's other events (no disbursement before approval, no repayment before disbursement,
nothing after closure, nothing before the application).

:func:`loan_defaults` and :func:`loan_default_labels` read the stored events back as the outcomes training
needs: the month each enterprise first went 90+ days past due, and ``features.outcomes.label_applications``
over that (the configured horizon, ``Settings.default_horizon_months``, is passed in by the caller).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from api.db.models import Loan, LoanEvent, utcnow
from api.errors import Conflict, FieldError, ValidationProblem
from api.schemas_loans import LoanEventIn
from config.settings import DEFAULT_DAYS_PAST_DUE
from features.outcomes import DEFAULT_HORIZON_MONTHS, label_applications

DETAIL_FIELDS = ("amount", "term_months", "annual_rate", "credit_type", "days_past_due")
REQUIRED: dict[str, frozenset[str]] = {
    "application": frozenset(),
    "approval": frozenset(),
    "disbursement": frozenset({"amount", "term_months", "annual_rate", "credit_type"}),
    "repayment": frozenset({"amount"}),
    "overdue": frozenset({"amount", "days_past_due"}),
    "default": frozenset(),
    "closure": frozenset(),
}
"""Fields each event type must carry."""
ALLOWED: dict[str, frozenset[str]] = {
    "application": frozenset({"amount", "term_months"}),
    "approval": frozenset({"amount", "term_months", "annual_rate", "credit_type"}),
    "disbursement": REQUIRED["disbursement"],
    "repayment": REQUIRED["repayment"],
    "overdue": REQUIRED["overdue"],
    "default": frozenset({"amount"}),
    "closure": frozenset(),
}
"""Fields each event type may carry; any other detail is refused rather than silently dropped."""
ONCE = ("application", "approval", "default", "closure")
"""Event types a loan has at most once."""
NEEDS_DISBURSEMENT = ("repayment", "overdue", "default")


@dataclass(frozen=True)
class StoredEvent:
    """The outcome of a report: the stored event and whether this call created it."""

    event: LoanEvent
    created: bool


def field_errors(body: LoanEventIn) -> list[FieldError]:
    """Missing and not-allowed detail fields of one event, each named with its rule."""
    given = {name for name in DETAIL_FIELDS if getattr(body, name) is not None}
    errors = [
        FieldError(name, "loan_event.required", f"a {body.type} event needs {name}")
        for name in DETAIL_FIELDS
        if name in REQUIRED[body.type] and name not in given
    ]
    errors += [
        FieldError(name, "loan_event.not_allowed", f"a {body.type} event does not carry {name}")
        for name in DETAIL_FIELDS
        if name in given and name not in ALLOWED[body.type]
    ]
    return errors


def order_errors(existing: Sequence[LoanEvent], body: LoanEventIn) -> list[FieldError]:
    """What the new event breaks among the loan's other events (which are in order already).

    Dates are compared, not arrival order: a bank may report an earlier event late, as long as the loan's
    history stays possible.
    """
    kind, day = body.type, body.event_date
    dates: dict[str, list[date]] = {}
    for event in existing:
        dates.setdefault(event.event_type, []).append(event.event_date)
    everything = [e.event_date for e in existing]
    errors: list[FieldError] = []
    if kind in ONCE and dates.get(kind):
        errors.append(FieldError("type", "loan_event.once", f"the loan already has its {kind} event"))
    if "closure" in dates and day > max(dates["closure"]):
        errors.append(FieldError("event_date", "loan_event.after_closure", "nothing may follow the closure"))
    if kind == "closure" and everything and day < max(everything):
        errors.append(FieldError("event_date", "loan_event.after_closure", "the loan has events after this date"))
    if "application" in dates and day < min(dates["application"]):
        errors.append(FieldError("event_date", "loan_event.before_application", "dated before the application"))
    if kind == "application" and everything and day > min(everything):
        errors.append(
            FieldError("event_date", "loan_event.before_application", "the loan has events before this date")
        )
    if kind == "disbursement" and not any(d <= day for d in dates.get("approval", [])):
        errors.append(FieldError("type", "loan_event.disbursement_before_approval", "no approval on or before it"))
    if kind == "approval" and any(d < day for d in dates.get("disbursement", [])):
        errors.append(
            FieldError("event_date", "loan_event.disbursement_before_approval", "a disbursement precedes it")
        )
    if kind in NEEDS_DISBURSEMENT and not any(d <= day for d in dates.get("disbursement", [])):
        errors.append(FieldError("type", "loan_event.before_disbursement", f"no disbursement on or before this {kind}"))
    return errors


def payload_of(body: LoanEventIn) -> dict[str, Any]:
    """The event as stored and compared for idempotency: every field, dates as ISO text."""
    return body.model_dump(mode="json")


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"loan reports are written for sqlite and postgresql, not {dialect}")


def ensure_loan(session: Session, bank_id: int, bank_loan_id: str, uscc: str) -> Loan:
    """The bank's loan, created if new, and locked for the rest of the transaction.

    ``INSERT … ON CONFLICT DO NOTHING`` makes two first reports of one loan create it once. On PostgreSQL the
    ``FOR UPDATE`` then serialises reports of the same loan; on SQLite the insert already took the database's
    write lock. A loan id already reported for another enterprise is a conflict.
    """
    stmt = _insert(session)(Loan).values(bank_id=bank_id, bank_loan_id=bank_loan_id, uscc=uscc, created_at=utcnow())
    session.execute(stmt.on_conflict_do_nothing(index_elements=["bank_id", "bank_loan_id"]))
    loan = session.scalars(
        select(Loan).where(Loan.bank_id == bank_id, Loan.bank_loan_id == bank_loan_id).with_for_update()
    ).one()
    if loan.uscc != uscc:
        session.rollback()
        raise Conflict("This loan id was reported for another enterprise; a loan id names one enterprise's loan.")
    return loan


def _by_key(session: Session, loan_id: int, body: LoanEventIn) -> LoanEvent | None:
    return session.scalars(
        select(LoanEvent).where(
            LoanEvent.loan_id == loan_id,
            LoanEvent.event_type == body.type,
            LoanEvent.event_date == body.event_date,
            LoanEvent.sequence == body.sequence,
        )
    ).first()


def _same_or_conflict(stored: LoanEvent, body: LoanEventIn) -> StoredEvent:
    if stored.payload != payload_of(body):
        raise Conflict(
            f"Event {stored.id} was stored under this loan id, type, date and sequence with another payload; "
            "send a new sequence number for a different event."
        )
    return StoredEvent(stored, created=False)


def report_event(
    session: Session,
    *,
    bank_id: int,
    bank_loan_id: str,
    body: LoanEventIn,
    account_id: int,
    authorisation_id: int,
    request_id: str,
) -> StoredEvent:
    """Store one reported event once, or return the one stored under the same key; commits.

    Raises ``ValidationProblem`` (422) naming each field and rule, and ``Conflict`` (409) for another payload
    under a stored key or a loan id already used for another enterprise.
    """
    errors = field_errors(body)
    if errors:
        raise ValidationProblem("The loan event is incomplete or carries fields its type does not have.", errors)
    loan = ensure_loan(session, bank_id, bank_loan_id, body.uscc)
    stored = _by_key(session, loan.id, body)
    if stored is not None:
        session.commit()  # nothing changed; ends the transaction and its lock
        return _same_or_conflict(stored, body)
    existing = session.scalars(select(LoanEvent).where(LoanEvent.loan_id == loan.id)).all()
    errors = order_errors(existing, body)
    if errors:
        session.rollback()  # a loan created by this call goes too: nothing stored
        raise ValidationProblem("The loan event does not fit the loan's other events.", errors)
    values = {name: getattr(body, name) for name in DETAIL_FIELDS}
    stmt = _insert(session)(LoanEvent).values(
        loan_id=loan.id,
        event_type=body.type,
        event_date=body.event_date,
        sequence=body.sequence,
        payload=payload_of(body),
        reported_at=utcnow(),
        reported_by_account_id=account_id,
        authorisation_id=authorisation_id,
        request_id=request_id,
        **values,
    )
    inserted = session.execute(
        stmt.on_conflict_do_nothing(index_elements=["loan_id", "event_type", "event_date", "sequence"]).returning(
            LoanEvent.id
        )
    ).scalar_one_or_none()
    session.commit()
    event = _by_key(session, loan.id, body)
    assert event is not None  # inserted now or by a concurrent identical report
    return StoredEvent(event, created=True) if inserted is not None else _same_or_conflict(event, body)


def loan_status(events: Sequence[LoanEvent]) -> str:
    """Where the loan stands: closed, defaulted, overdue (latest repayment-or-overdue is overdue), disbursed …"""
    kinds = {e.event_type for e in events}
    if "closure" in kinds:
        return "closed"
    if "default" in kinds:
        return "defaulted"
    servicing = [e for e in events if e.event_type in ("repayment", "overdue")]
    if servicing and max(servicing, key=lambda e: (e.event_date, e.id)).event_type == "overdue":
        return "overdue"
    for kind, state in (("disbursement", "disbursed"), ("approval", "approved")):
        if kind in kinds:
            return state
    return "applied"


def default_date(event: LoanEvent, days_past_due: int = DEFAULT_DAYS_PAST_DUE) -> date | None:
    """The day this event shows the loan in default: a default event's date, or the day an overdue event's
    loan reached ``days_past_due`` (``Settings.default_days_past_due``; event date − its days past due + that
    threshold), if it did."""
    if event.event_type == "default":
        return event.event_date
    if event.event_type == "overdue" and (event.days_past_due or 0) >= days_past_due:
        assert event.days_past_due is not None
        return event.event_date - timedelta(days=event.days_past_due - days_past_due)
    return None


def loan_defaults(
    session: Session, *, reported_before: datetime | None = None, days_past_due: int = DEFAULT_DAYS_PAST_DUE
) -> pd.DataFrame:
    """Defaults as banks reported them: one row per enterprise and loan in default, in the shape
    ``features.outcomes.label_applications`` reads (``uscc``, ``default_month`` as the first day of the month,
    ``reported_on``). Only reports received before ``reported_before`` count, so a label set is reproducible;
    ``days_past_due`` is the default definition's threshold (``Settings.default_days_past_due``)."""
    stmt = (
        select(Loan.uscc, Loan.id, LoanEvent)
        .join(LoanEvent, LoanEvent.loan_id == Loan.id)
        .where(LoanEvent.event_type.in_(("overdue", "default")))
    )
    if reported_before is not None:
        stmt = stmt.where(LoanEvent.reported_at < reported_before)
    first: dict[int, tuple[str, date, date]] = {}
    for uscc, loan_id, event in session.execute(stmt):
        day = default_date(event, days_past_due)
        if day is not None and (loan_id not in first or day < first[loan_id][1]):
            first[loan_id] = (uscc, day, event.reported_at.date())
    rows = sorted(first.values())
    return pd.DataFrame(
        {
            "uscc": pd.Series([r[0] for r in rows], dtype=object),
            "default_month": pd.to_datetime([date(r[1].year, r[1].month, 1) for r in rows]),
            "reported_on": pd.to_datetime(list(r[2] for r in rows)),
        }
    )


def loan_default_labels(
    session: Session,
    profiles: pd.DataFrame,
    *,
    observed_until: pd.Timestamp,
    horizon_months: int = DEFAULT_HORIZON_MONTHS,
    days_past_due: int = DEFAULT_DAYS_PAST_DUE,
) -> pd.DataFrame:
    """Profiles (``uscc``, ``as_of``, features) labelled from the stored loan reports: 1 when the enterprise
    first went ``days_past_due``+ days past due (or was reported in default) within ``horizon_months`` after
    ``as_of``.

    Pass ``Settings.default_horizon_months`` and ``Settings.default_days_past_due``; only reports received by
    ``observed_until`` count.
    """
    day = observed_until.date()
    end_of_day = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    defaults = loan_defaults(session, reported_before=end_of_day, days_past_due=days_past_due)
    return label_applications(profiles, defaults, observed_until=observed_until, horizon_months=horizon_months)
