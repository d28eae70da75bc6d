"""回传: banks report what they lent to enterprises that authorised them, and read their reports back."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Depends, Path, Request, Response, status
from sqlalchemy import select

from api.audit import note_detail, note_uscc, outcome_of
from api.db.models import AuditEvent, Bank, Loan, LoanEvent, utcnow
from api.deps import AuthorizedLoanReport, CurrentBank, DbSession, loan_report_grant
from api.errors import ApiError, NotFound
from api.loans import loan_status, report_event
from api.problem_json import PROBLEM_BASE
from api.routers.problems import problem_responses
from api.schemas import ItemFieldErrorOut, ItemProblemOut
from api.schemas_loans import (
    BankLoanId,
    CreditType,
    LoanEventBatch,
    LoanEventBatchItem,
    LoanEventBatchOut,
    LoanEventBatchResult,
    LoanEventOut,
    LoanEventType,
    LoanOut,
    LoanStatus,
)

router = APIRouter(prefix="/v1/loans", tags=["bank"])
batch_router = APIRouter(prefix="/v1/loan-events", tags=["bank"])
BATCH_ITEM_ACTION = "loan.report_batch_item"

LoanIdPath = Annotated[str, Path(description="The bank's own loan id.")]


def event_out(event: LoanEvent, loan: Loan) -> LoanEventOut:
    """The receipt of one stored event."""
    return LoanEventOut(
        id=event.id,
        bank_loan_id=loan.bank_loan_id,
        uscc=loan.uscc,
        type=cast(LoanEventType, event.event_type),
        event_date=event.event_date,
        sequence=event.sequence,
        amount=event.amount,
        term_months=event.term_months,
        annual_rate=event.annual_rate,
        credit_type=cast(CreditType | None, event.credit_type),
        days_past_due=event.days_past_due,
        reported_at=event.reported_at,
        request_id=event.request_id,
        authorisation_id=event.authorisation_id,
    )


@router.post(
    "/{bank_loan_id}/events",
    name="loan.report",
    status_code=status.HTTP_201_CREATED,
    summary="Report a loan event (回传) for an enterprise that authorised this bank",
    responses={
        200: {"description": "The same event was already stored; this is its receipt", "model": LoanEventOut},
        **problem_responses(401, 403, 404, 409, 422, 429),
    },
)
def report_loan_event(
    bank_loan_id: Annotated[BankLoanId, Path(description="The bank's own loan id.")],
    report: AuthorizedLoanReport,
    bank: CurrentBank,
    session: DbSession,
    request: Request,
    response: Response,
) -> LoanEventOut:
    """Store the event once: 201 the first time, 200 with the stored receipt when the same event comes again,
    409 when another payload comes under the same (loan id, type, date, sequence)."""
    assert bank.bank_id is not None  # guaranteed by CurrentBank
    stored = report_event(
        session,
        bank_id=bank.bank_id,
        bank_loan_id=bank_loan_id,
        body=report.body,
        account_id=bank.id,
        authorisation_id=report.authorisation.id,
        request_id=request.state.request_id,
    )
    note_detail(request, f"loan event {stored.event.id} {'stored' if stored.created else 'replayed'}")
    if not stored.created:
        response.status_code = status.HTTP_200_OK
    loan = session.get(Loan, stored.event.loan_id)
    assert loan is not None  # foreign key
    return event_out(stored.event, loan)


def own_loan(bank_loan_id: LoanIdPath, request: Request, bank: CurrentBank, session: DbSession) -> Loan:
    """A loan this bank reported; 404 for unknown ids and other banks' loans alike."""
    loan = session.scalars(
        select(Loan).where(Loan.bank_id == bank.bank_id, Loan.bank_loan_id == bank_loan_id)
    ).first()
    if loan is None:
        raise NotFound("This bank has reported no loan with this id.")
    note_uscc(request, loan.uscc)
    return loan


OwnLoan = Annotated[Loan, Depends(own_loan)]


@router.get(
    "/{bank_loan_id}",
    name="loan.read",
    summary="Read back a reported loan with its events",
    responses=problem_responses(401, 403, 404, 422, 429),
)
def read_loan(loan: OwnLoan, session: DbSession) -> LoanOut:
    """The loan and every event the bank reported, in date order, with the status they add up to."""
    events = session.scalars(
        select(LoanEvent).where(LoanEvent.loan_id == loan.id).order_by(LoanEvent.event_date, LoanEvent.id)
    ).all()
    bank = session.get(Bank, loan.bank_id)
    assert bank is not None  # foreign key
    return LoanOut(
        bank_loan_id=loan.bank_loan_id,
        uscc=loan.uscc,
        bank_code=bank.code,
        status=cast(LoanStatus, loan_status(events)),
        created_at=loan.created_at,
        events=[event_out(e, loan) for e in events],
    )


def _batch_item(
    session: DbSession, bank: CurrentBank, request_id: str, index: int, item: LoanEventBatchItem
) -> LoanEventBatchResult:
    """One item as the single-event endpoint would treat it; a refusal is its result, not the batch's."""
    assert bank.bank_id is not None  # guaranteed by CurrentBank
    try:
        grant = loan_report_grant(session, item.event.uscc, bank.bank_id)
        stored = report_event(session, bank_id=bank.bank_id, bank_loan_id=item.bank_loan_id, body=item.event,
                              account_id=bank.id, authorisation_id=grant.id, request_id=request_id)
    except ApiError as exc:
        session.rollback()
        problem = ItemProblemOut(type=PROBLEM_BASE + exc.slug, title=exc.title, detail=exc.detail,
                                 errors=[ItemFieldErrorOut(field=e.field, rule=e.rule, message=e.message)
                                         for e in exc.errors])
        return LoanEventBatchResult(index=index, bank_loan_id=item.bank_loan_id, status=exc.status, problem=problem)
    loan = session.get(Loan, stored.event.loan_id)
    assert loan is not None  # foreign key
    return LoanEventBatchResult(index=index, bank_loan_id=item.bank_loan_id, status=201 if stored.created else 200,
                                event=event_out(stored.event, loan))


@batch_router.post(
    "",
    name="loan.report_batch",
    summary="Report many loan events at once (回传, batch)",
    responses=problem_responses(401, 403, 422, 429),
)
def report_loan_events(
    body: LoanEventBatch, bank: CurrentBank, session: DbSession, request: Request
) -> LoanEventBatchOut:
    """Each event is authorised (its enterprise's grant to this bank), checked against its loan and stored once,
    exactly as ``POST /v1/loans/{id}/events`` would; each leaves its own audit row naming its enterprise."""
    request_id: str = request.state.request_id
    results = []
    for index, item in enumerate(body.items):
        result = _batch_item(session, bank, request_id, index, item)
        session.add(AuditEvent(at=utcnow(), request_id=request_id, actor_account_id=bank.id, actor_role="bank",
                               action=BATCH_ITEM_ACTION, uscc=item.event.uscc, outcome=outcome_of(result.status),
                               http_status=result.status, detail=f"item {index}"))
        session.commit()
        results.append(result)
    stored = sum(r.status == 201 for r in results)
    replayed = sum(r.status == 200 for r in results)
    note_detail(request, f"batch of {len(results)}: {stored} stored, {replayed} replayed")
    return LoanEventBatchOut(results=results, stored=stored, replayed=replayed,
                             refused=len(results) - stored - replayed)
