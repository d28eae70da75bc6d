"""Enterprise self-service: profile summary, own score and advice, access log, objections (异议) and human
review (PIPL Art. 24) (pydantic 2)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import Decision, MissingDataOut, ModelOut, PolicyHitOut, ReasonsOut

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
