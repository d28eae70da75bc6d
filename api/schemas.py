"""Request and response bodies of the /v1 API (pydantic 2)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from features.uscc import check_uscc

Purpose = Literal["pre_credit", "post_loan"]
DataScope = Literal["tax", "social_insurance", "housing_fund", "utilities"]
"""Non-public sources a grant lets feed the answer (``scoring.scopes.DATA_SCOPES``); public records always do."""
Scope = Literal["score", "profile", "tax", "social_insurance", "housing_fund", "utilities"]
SCOPES_DESCRIPTION = (
    "What the bank may ask (`score`, `profile`) and which non-public sources may feed the answer (`tax`, "
    "`social_insurance`, `housing_fund`, `utilities`). A source left out is withheld: its records feed neither the "
    "score, the rules, the limit nor the reasons. Registration, administrative, court and list records are public "
    "disclosures and always count. Default: `score` and every source."
)
Decision = Literal["approve", "refer", "decline"]


def _valid_uscc(code: str) -> str:
    check = check_uscc(code)
    if not check.valid:
        raise PydanticCustomError(check.rule or "uscc.invalid", check.message or "invalid USCC")
    return code


Uscc = Annotated[
    str,
    AfterValidator(_valid_uscc),
    Field(description="统一社会信用代码 (GB 32100-2015), 18 characters", examples=["91350100M000100Y43"]),
]


DEFAULT_SCOPES: tuple[Scope, ...] = ("score", "tax", "social_insurance", "housing_fund", "utilities")
"""A grant's scopes when the enterprise does not choose: scoring, from every source."""


def _default_scopes() -> list[Scope]:
    return list(DEFAULT_SCOPES)


class ScoreRequest(BaseModel):
    """A bank asks for the pre-credit score of one enterprise."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"uscc": "91350100M000100Y43", "requested_amount": 500000}]},
    )

    uscc: Uscc
    requested_amount: float | None = Field(
        None, gt=0, description="Amount the enterprise asked for (yuan); the suggested limit never exceeds it."
    )


class ReasonOut(BaseModel):
    """One feature's pull on the score, in score points."""

    feature: str
    points: float
    value: float | None
    text_zh: str
    text_en: str


class ReasonsOut(BaseModel):
    """The features that lowered and raised the score most."""

    lowering: list[ReasonOut]
    raising: list[ReasonOut]


class ModelOut(BaseModel):
    """The model that produced a score."""

    name: str
    version: str


class PolicyRecordOut(BaseModel):
    """The record a policy rule cites: its source, kind (list, judicial kind, grade), start, reason and key."""

    source: str
    kind: str
    since: date
    reason: str | None
    record_key: str


class PolicyHitOut(BaseModel):
    """A policy rule (联合惩戒) that applied, with the record it cites."""

    rule_id: str
    rule_version: str
    action: Literal["decline", "refer"]
    record: PolicyRecordOut
    text_zh: str
    text_en: str


class MissingDataOut(BaseModel):
    """What is missing to score the enterprise."""

    code: str
    text_zh: str
    text_en: str


class PreCreditLimitOut(BaseModel):
    """预授信额度 in yuan and the figures behind it (docs/scoring.md, limit formula)."""

    amount: int
    currency: Literal["CNY"] = "CNY"
    sales_12m: float
    tax_paid_12m: float
    sales_base: float
    tax_base: float
    pd_factor: float
    binding: Literal["sales", "tax", "maximum", "requested", "pd", "declined"]


class ScoreOut(BaseModel):
    """预授信评分: PD, score, grade, reasons, decision and limit, as stored and returned to the bank.

    An unscorable enterprise has null PD, score and grade and lists ``insufficient_data``; scores given before
    decisions existed have a null decision.
    """

    id: uuid.UUID
    uscc: str
    probability_of_default: float | None
    score: int | None
    grade: str | None
    reasons: ReasonsOut
    model: ModelOut
    profile_as_of: date
    requested_at: datetime
    decision: Decision | None = Field(None, description="approve, refer (to a loan officer) or decline")
    pre_credit_limit: PreCreditLimitOut | None = None
    requested_amount: float | None = None
    policy_hits: list[PolicyHitOut] = Field(default_factory=list)
    rule_set_version: str | None = Field(None, description="Version of the policy rules that applied")
    insufficient_data: list[MissingDataOut] = Field(default_factory=list)
    withheld_scopes: list[DataScope] = Field(
        default_factory=list, description="Non-public sources the enterprise's grant leaves out: none of their "
        "records fed this answer (an empty list: every source did)."
    )


class AuthorisationCreate(BaseModel):
    """An enterprise authorises one bank for one purpose and some scopes, for some days."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [
            {"bank_code": "DEMO_BANK_A", "purpose": "pre_credit", "scopes": ["score"], "days": 180}]},
    )

    bank_code: str = Field(min_length=1, max_length=40, examples=["DEMO_BANK_A"])
    purpose: Purpose = "pre_credit"
    scopes: list[Scope] = Field(default_factory=_default_scopes, min_length=1, description=SCOPES_DESCRIPTION)
    days: int | None = Field(None, ge=1, description="Validity in days; default and maximum set by the platform.")


class AuthorisationChangeIn(BaseModel):
    """An enterprise changes an active grant: its scopes, and/or its validity counted from now (``days``)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"scopes": ["score"], "days": 90}]})

    scopes: list[Scope] | None = Field(None, min_length=1, description="The new scopes, replacing the old. "
                                       + SCOPES_DESCRIPTION)
    days: int | None = Field(None, ge=1, description="New validity in days from now; at most the platform maximum.")


class AuthorisationEventOut(BaseModel):
    """One line of a grant's receipts: granted, changed, revoked or expired, when, and its scopes and expiry then."""

    event: Literal["granted", "changed", "revoked", "expired"]
    at: datetime
    scopes: list[str]
    expires_at: datetime


class AuthorisationOut(BaseModel):
    """授权回执: the receipt of a grant, showing whether it is active, expired or revoked."""

    id: int
    uscc: str
    bank_code: str
    bank_name: str
    purpose: Purpose
    scopes: list[str]
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    status: Literal["active", "expired", "revoked"]
    history: list[AuthorisationEventOut] = Field(
        default_factory=list, description="Every grant, change, revocation and expiry of this grant, oldest first."
    )


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


class ItemFieldErrorOut(BaseModel):
    """One invalid field of one batch item."""

    field: str
    rule: str
    message: str


class ItemProblemOut(BaseModel):
    """Why one batch item was refused, in the shape of a problem+json body."""

    type: str
    title: str
    detail: str
    errors: list[ItemFieldErrorOut] = Field(default_factory=list)


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


# -- enterprise self-service --------------------------------------------------------------------------------


class DisputedRecordOut(BaseModel):
    """A record under an open objection (异议): shown as disputed until it is decided."""

    objection_id: int
    source: str
    record_key: str
    status: Literal["submitted", "in_review"]


class ProfileFeatureOut(BaseModel):
    """One profile feature in words: its labels, its value and the sentence a loan officer reads."""

    name: str
    source: str
    label_zh: str
    label_en: str
    value: float | None
    text_zh: str
    text_en: str
    disputed: bool = Field(description="True while an objection to a record of this feature's source is open.")


class ProfileSummaryOut(BaseModel):
    """企业画像: the enterprise's latest profile, feature by feature, with the records it disputes."""

    uscc: str
    as_of: date
    features: list[ProfileFeatureOut]
    disputed_records: list[DisputedRecordOut]


class AdviceStepOut(BaseModel):
    """One change the enterprise can make, and the score and grade after it (and the steps before it)."""

    feature: str
    from_value: float
    to_value: float
    score: int
    grade: str
    text_zh: str
    text_en: str


class AdviceOut(BaseModel):
    """改进建议: the smallest changes to its own conduct that would lift the grade (``scoring.advice``)."""

    target_grade: str | None
    lifts_grade: bool
    steps: list[AdviceStepOut]


class OwnScoreOut(BaseModel):
    """The enterprise's own score as a bank would see it now, with reasons and improvement advice.

    ``advice`` is null when the enterprise is unscorable or the loaded scorer cannot re-score profiles.
    """

    uscc: str
    probability_of_default: float | None
    score: int | None
    grade: str | None
    reasons: ReasonsOut
    model: ModelOut
    profile_as_of: date
    decision: Decision | None
    policy_hits: list[PolicyHitOut]
    insufficient_data: list[MissingDataOut]
    advice: AdviceOut | None


class AccessRecordOut(BaseModel):
    """One access to the enterprise's data by someone else: who, what, when, under which grant, outcome."""

    at: datetime
    request_id: str
    actor_role: str
    bank_code: str | None
    bank_name: str | None
    action: str
    action_text: str
    outcome: Literal["allowed", "denied", "error"]
    http_status: int
    authorisation_id: int | None = Field(
        description="The grant that was in force for this bank and purpose at that moment; null when none was."
    )


class AccessLogOut(BaseModel):
    """访问记录, newest first, one page at a time."""

    items: list[AccessRecordOut]
    total: int
    offset: int
    limit: int
    next_offset: int | None = Field(description="Deprecated: offset of the next page; use ``next_cursor``.")
    next_cursor: str | None = Field(None, description="Cursor of the next page (``?cursor=``); null on the last.")


class DecisionSummaryOut(BaseModel):
    """An automated decision (a stored score) a bank obtained about the enterprise."""

    score_id: uuid.UUID
    bank_code: str
    requested_at: datetime
    score: int | None
    grade: str | None
    decision: Decision | None


# -- objections (异议) and human review (PIPL Art. 24) -------------------------------------------------------

ObjectionStatus = Literal["submitted", "in_review", "corrected", "rejected"]


class ObjectionCreate(BaseModel):
    """An enterprise disputes one record: its source (``features.schemas`` name) and key, and why."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"source": "admin_records", "record_key": "闽榕市监罚〔2025〕123号",
                                         "reason": "该处罚已于2025年12月完成信用修复。"}]},
    )

    source: str = Field(
        min_length=1, max_length=40, examples=["admin_records"],
        description="The record's source: registration, tax_monthly, tax_credit_grade, social_insurance_monthly, "
        "housing_fund_monthly, utilities_monthly, admin_records, judicial, list_entries or commitments.",
    )
    record_key: str = Field(min_length=1, max_length=100, examples=["闽榕市监罚〔2025〕123号"])
    reason: str = Field(min_length=5, max_length=2000, examples=["该处罚已于2025年12月完成信用修复。"])


class ObjectionDecision(BaseModel):
    """An operator moves an objection on: to in_review, then to corrected or rejected with a note."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "in_review"},
                                        {"status": "corrected", "note": "已核实信用修复决定书，记录已更正。"}]},
    )

    status: Literal["in_review", "corrected", "rejected"]
    note: str | None = Field(None, min_length=1, max_length=2000)


class ObjectionChangeOut(BaseModel):
    """The receipt of one state change."""

    status: ObjectionStatus
    at: datetime
    note: str | None


class ObjectionOut(BaseModel):
    """An objection, its current state and every change it went through."""

    id: int
    uscc: str
    source: str
    record_key: str
    reason: str
    status: ObjectionStatus
    submitted_at: datetime
    updated_at: datetime
    decision_note: str | None
    history: list[ObjectionChangeOut]


class ReviewCreate(BaseModel):
    """A request for human review of an automated decision (PIPL Art. 24), naming the score it concerns."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"score_request_id": "6f1c2a7e-5b0d-4c49-9a55-2d1f0e8b7c31",
                                         "reason": "拒绝决定未考虑我司已结清的欠税，请人工复核。"}]},
    )

    score_request_id: uuid.UUID
    reason: str = Field(min_length=5, max_length=2000)


class ReviewOut(BaseModel):
    """The receipt of a review request."""

    id: int
    uscc: str
    score_request_id: uuid.UUID
    reason: str
    status: Literal["submitted"]
    submitted_at: datetime


# -- batch scores ---------------------------------------------------------------------------------------------

MAX_BATCH_SCORES = 100
"""Enterprises in one batch score: a loan officer's morning list, small enough for one request's time."""


def _distinct_usccs(usccs: list[str]) -> list[str]:
    seen: set[str] = set()
    for uscc in usccs:
        if uscc in seen:
            raise PydanticCustomError("usccs.duplicate", "USCC {uscc} is listed twice", {"uscc": uscc})
        seen.add(uscc)
    return usccs


class ScoreBatchRequest(BaseModel):
    """A bank asks for the scores of several enterprises at once, for one purpose; each is checked on its own."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"purpose": "post_loan", "usccs": ["91350100M000100Y43", "913501000000000279"]}]
        },
    )

    purpose: Purpose = Field(
        "pre_credit", description="The grant purpose each enterprise must have given this bank (with scope score)."
    )
    usccs: Annotated[list[Uscc], AfterValidator(_distinct_usccs)] = Field(
        min_length=1, max_length=MAX_BATCH_SCORES, description=f"At most {MAX_BATCH_SCORES} distinct USCCs."
    )


class ScoreBatchResult(BaseModel):
    """What became of one enterprise: ``status`` is what ``POST /v1/scores`` would have answered for it."""

    index: int
    uscc: str
    status: int
    score: ScoreOut | None = None
    problem: ItemProblemOut | None = None


class ScoreBatchOut(BaseModel):
    """Per-enterprise results in the order sent, and how many were scored and refused."""

    purpose: Purpose
    results: list[ScoreBatchResult]
    scored: int
    refused: int
