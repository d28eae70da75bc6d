"""Request and response bodies of the /v1 API (pydantic 2)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
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


# -- batch items ---------------------------------------------------------------------------------------------


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
