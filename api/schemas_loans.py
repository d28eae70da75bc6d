"""Loan reports (回传): the bodies banks send and receive about their loans (pydantic 2)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from api.schemas import ItemProblemOut, Uscc

# -- loan reports (回传) ------------------------------------------------------------------------------------

LoanEventType = Literal["application", "approval", "disbursement", "repayment", "overdue", "default", "closure"]
CreditType = Literal["credit", "secured"]
LoanStatus = Literal["applied", "approved", "disbursed", "overdue", "defaulted", "closed"]
MAX_LOAN_AMOUNT = 1e10
"""Ten billion yuan: far above any small-enterprise loan, low enough to catch a unit or digit slip."""
MAX_ANNUAL_RATE = 0.36
"""36 % a year: the ceiling above which Chinese courts do not protect lending interest; above it is a typo."""


BUSINESS_TIMEZONE = timezone(timedelta(hours=8), "CST")
"""China Standard Time: banks date their events in it, so "today" ends at midnight in Beijing, not in UTC."""


def _not_in_future(day: date) -> date:
    if day > datetime.now(BUSINESS_TIMEZONE).date():
        raise PydanticCustomError("date.in_future", "the event date is in the future")
    return day


BankLoanId = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:/-]+$", examples=["LN-2026-000123"])
]


class LoanEventIn(BaseModel):
    """One loan event reported by a bank (回传); which fields each type needs is in docs/api.md.

    Idempotency key: (bank, loan id, ``type``, ``event_date``, ``sequence``). ``sequence`` tells apart several
    events of one type on one day (two repayments, say).
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "uscc": "91350100M000100Y43",
                    "type": "disbursement",
                    "event_date": "2026-03-02",
                    "amount": 500000,
                    "term_months": 12,
                    "annual_rate": 0.0435,
                    "credit_type": "credit",
                },
                {"uscc": "91350100M000100Y43", "type": "overdue", "event_date": "2026-09-30",
                 "days_past_due": 35, "amount": 42000},
            ]
        },
    )

    uscc: Uscc
    type: LoanEventType
    event_date: Annotated[date, AfterValidator(_not_in_future)]
    sequence: int = Field(0, ge=0, le=9999, description="Tells apart events of one type on one day.")
    amount: float | None = Field(
        None, gt=0, le=MAX_LOAN_AMOUNT,
        description="Yuan: requested (application), approved, disbursed, repaid, overdue, or outstanding at default.",
    )
    term_months: int | None = Field(None, ge=1, le=360, description="Term in months (disbursement).")
    annual_rate: float | None = Field(
        None, gt=0, le=MAX_ANNUAL_RATE, description="Annual interest rate as a fraction (0.0435 = 4.35 %)."
    )
    credit_type: CreditType | None = Field(None, description="信用 credit (unsecured) or secured (抵押/担保).")
    days_past_due: int | None = Field(None, ge=1, le=3650, description="Days past due on event_date (overdue).")


class LoanEventOut(BaseModel):
    """回传回执: a stored loan event, as first received, with when and under which request it was stored."""

    id: int
    bank_loan_id: str
    uscc: str
    type: LoanEventType
    event_date: date
    sequence: int
    amount: float | None
    term_months: int | None
    annual_rate: float | None
    credit_type: CreditType | None
    days_past_due: int | None
    reported_at: datetime
    request_id: str
    authorisation_id: int


MAX_BATCH_EVENTS = 500
"""Events in one batch report: a month of a branch's loans, small enough for one request's time."""


class LoanEventBatchItem(BaseModel):
    """One event of a batch report, with the bank's loan id it belongs to."""

    model_config = ConfigDict(extra="forbid")

    bank_loan_id: BankLoanId
    event: LoanEventIn


class LoanEventBatch(BaseModel):
    """Many loan events at once; fields are checked for all before any is stored (422 names ``items.N…``),
    then each is authorised, ordered and stored on its own."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"items": [
            {"bank_loan_id": "LN-2026-000123", "event": {"uscc": "91350100M000100Y43", "type": "application",
                                                         "event_date": "2026-03-02", "amount": 600000,
                                                         "term_months": 12}},
            {"bank_loan_id": "LN-2026-000124", "event": {"uscc": "91350100M000100Y43", "type": "repayment",
                                                         "event_date": "2026-03-05", "amount": 43000}},
        ]}]},
    )

    items: list[LoanEventBatchItem] = Field(min_length=1, max_length=MAX_BATCH_EVENTS)


class LoanEventBatchResult(BaseModel):
    """What became of one batch item: ``status`` is what the single-event endpoint would have answered."""

    index: int
    bank_loan_id: str
    status: int
    event: LoanEventOut | None = None
    problem: ItemProblemOut | None = None


class LoanEventBatchOut(BaseModel):
    """Per-item results in the order sent, and how many were stored, already stored, and refused."""

    results: list[LoanEventBatchResult]
    stored: int
    replayed: int
    refused: int


class LoanOut(BaseModel):
    """A reported loan and every event of it, in date order; ``status`` follows from the latest events."""

    bank_loan_id: str
    uscc: str
    bank_code: str
    status: LoanStatus
    created_at: datetime
    events: list[LoanEventOut]
