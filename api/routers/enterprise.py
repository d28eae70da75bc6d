"""企业自助: an enterprise sees its own profile, score and advice, who accessed its data, the automated decisions
banks obtained about it, and asks for human review of one (PIPL Art. 24). Always its own USCC, never another's.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Annotated, cast

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy import select

from api.audit import note_detail
from api.db.models import AuditEvent, Bank, ReviewRequest, ScoreResponse, utcnow
from api.deps import Advisor, CurrentEnterprise, DbSession, Scorer
from api.errors import Conflict, FieldError, NoProfile, ValidationProblem
from api.pagination import PAGE_HEADERS, CursorPagination, announce_next, keyset, page_rows
from api.routers.problems import problem_responses
from api.routers.scores import PreCredit
from api.schemas import Decision, MissingDataOut, ModelOut, PolicyHitOut, ReasonOut, ReasonsOut
from api.schemas_enterprise import (
    AccessLogOut,
    AccessRecordOut,
    AdviceOut,
    AdviceStepOut,
    DecisionSummaryOut,
    OwnScoreOut,
    ProfileSummaryOut,
    ReviewCreate,
    ReviewOut,
)
from api.self_service import access_log, latest_profile, profile_summary
from scoring.facts import PolicyFacts
from scoring.types import Reason

router = APIRouter(prefix="/v1/enterprise", tags=["enterprise"])


def _own_uscc(enterprise: CurrentEnterprise) -> str:
    assert enterprise.uscc is not None  # guaranteed by CurrentEnterprise
    return enterprise.uscc


def _reason(reason: Reason) -> ReasonOut:
    value = reason.value if reason.value is not None and math.isfinite(reason.value) else None
    return ReasonOut(feature=reason.feature, points=float(reason.points), value=value, text_zh=reason.text_zh,
                     text_en=reason.text_en)


@router.get(
    "/profile",
    name="enterprise.profile",
    summary="This enterprise's latest profile (企业画像) in words, disputed records flagged",
    responses=problem_responses(401, 403, 404),
)
def read_profile(enterprise: CurrentEnterprise, session: DbSession) -> ProfileSummaryOut:
    """Each feature with its Chinese and English label and value in words; a feature whose source has a record
    under an open objection is marked disputed until the objection is decided."""
    summary = profile_summary(session, _own_uscc(enterprise))
    if summary is None:
        raise NoProfile("There is no profile of this enterprise yet.")
    return ProfileSummaryOut.model_validate(summary)


@router.get(
    "/score",
    name="enterprise.score",
    summary="This enterprise's own score, reasons and improvement advice (改进建议)",
    responses=problem_responses(401, 403, 404, 503),
)
def read_own_score(
    enterprise: CurrentEnterprise,
    session: DbSession,
    scorer: Scorer,
    policy: PreCredit,
    advisor: Advisor,
    request: Request,
) -> OwnScoreOut:
    """The assessment a bank would get now, from the same profile, model and rules; not stored as a bank's
    score, and audited as the enterprise viewing its own score."""
    uscc = _own_uscc(enterprise)
    profile = latest_profile(session, uscc)
    if profile is None:
        raise NoProfile("There is no profile of this enterprise to score yet.")
    facts = PolicyFacts.from_json(profile.policy_facts) if profile.policy_facts is not None else None
    result = policy.assess(scorer, uscc, profile.features, profile.as_of, facts)
    note_detail(request, "own score viewed by the enterprise")
    advice = None
    if advisor is not None and result.score is not None:
        found = advisor.advise(profile.features)
        advice = AdviceOut(target_grade=found.target_grade, lifts_grade=found.lifts_grade,
                           steps=[AdviceStepOut(**asdict(step)) for step in found.steps])
    return OwnScoreOut(
        uscc=uscc,
        probability_of_default=result.probability_of_default,
        score=result.score,
        grade=result.grade,
        reasons=ReasonsOut(lowering=[_reason(r) for r in result.reasons_lowering],
                           raising=[_reason(r) for r in result.reasons_raising]),
        model=ModelOut(name=result.model_name, version=result.model_version),
        profile_as_of=result.profile_as_of,
        decision=result.decision,
        policy_hits=[PolicyHitOut.model_validate({**asdict(h), "record": h.record.to_json()})
                     for h in result.policy_hits],
        insufficient_data=[MissingDataOut(**asdict(m)) for m in result.insufficient_data],
        advice=advice,
    )


@router.get(
    "/access-log",
    name="enterprise.access_log",
    summary="Who accessed this enterprise's data: which bank, what, when, under which grant",
    responses=problem_responses(401, 403, 422),
)
def read_access_log(
    enterprise: CurrentEnterprise,
    session: DbSession,
    page: CursorPagination,
    offset: Annotated[int, Query(ge=0, le=1_000_000, deprecated=True,
                                 description="Rows to skip after the cursor; use `cursor` instead.")] = 0,
) -> AccessLogOut:
    """访问记录 from the audit trail, newest first: every request about this enterprise by a bank, operator or
    regulator, allowed or refused, with the grant that was in force for an allowed bank request."""
    after = page.after_key([AuditEvent.id])
    found = access_log(session, _own_uscc(enterprise), offset=offset, limit=page.limit + 1,
                       before_id=after[0] if after else None)
    items, next_cursor = page_rows(found.items, page, lambda item: [item["id"]])
    following = offset + len(items)
    return AccessLogOut(
        items=[AccessRecordOut.model_validate(item) for item in items],
        total=found.total,
        offset=offset,
        limit=page.limit,
        next_offset=following if after is None and following < found.total else None,
        next_cursor=next_cursor,
    )


@router.get(
    "/decisions",
    name="enterprise.decisions",
    summary="Automated decisions banks obtained about this enterprise",
    responses={200: {"headers": PAGE_HEADERS}, **problem_responses(401, 403, 422)},
)
def list_decisions(
    enterprise: CurrentEnterprise, session: DbSession, page: CursorPagination, request: Request, response: Response
) -> list[DecisionSummaryOut]:
    """Every score a bank was given about this enterprise, newest first: the ids a review request names."""
    query = select(ScoreResponse, Bank).join(Bank, Bank.id == ScoreResponse.bank_id).where(
        ScoreResponse.uscc == _own_uscc(enterprise))
    found = session.execute(keyset(query, page, [ScoreResponse.requested_at, ScoreResponse.id],
                                   descending=True)).all()
    rows, next_cursor = page_rows(found, page, lambda row: [row[0].requested_at, row[0].id])
    announce_next(request, response, next_cursor)
    return [
        DecisionSummaryOut(score_id=row.id, bank_code=bank.code, requested_at=row.requested_at, score=row.score,
                           grade=row.grade, decision=cast(Decision | None, row.decision))
        for row, bank in rows
    ]


def review_out(review: ReviewRequest) -> ReviewOut:
    """The receipt of a review request."""
    return ReviewOut(id=review.id, uscc=review.uscc, score_request_id=review.score_id, reason=review.reason,
                     status="submitted", submitted_at=review.submitted_at)


@router.post(
    "/reviews",
    name="review.create",
    status_code=status.HTTP_201_CREATED,
    summary="Ask for human review of an automated decision (PIPL Art. 24)",
    responses=problem_responses(401, 403, 409, 422),
)
def create_review(body: ReviewCreate, enterprise: CurrentEnterprise, session: DbSession) -> ReviewOut:
    """Store the request against one score about this enterprise; the response is the receipt."""
    uscc = _own_uscc(enterprise)
    score = session.get(ScoreResponse, body.score_request_id)
    if score is None or score.uscc != uscc:
        raise ValidationProblem(
            "No automated decision with this id concerns this enterprise.",
            [FieldError("score_request_id", "review.unknown_score", "no score with this id about this enterprise")],
        )
    if session.scalars(select(ReviewRequest).where(ReviewRequest.score_id == score.id)).first() is not None:
        raise Conflict("A review of this decision has already been requested.")
    review = ReviewRequest(uscc=uscc, score_id=score.id, reason=body.reason, status="submitted",
                           submitted_at=utcnow(), submitted_by_account_id=enterprise.id)
    session.add(review)
    session.commit()
    return review_out(review)


@router.get(
    "/reviews",
    name="review.list_own",
    summary="This enterprise's requests for human review",
    responses={200: {"headers": PAGE_HEADERS}, **problem_responses(401, 403, 422)},
)
def list_own_reviews(
    enterprise: CurrentEnterprise, session: DbSession, page: CursorPagination, request: Request, response: Response
) -> list[ReviewOut]:
    """Every review request this enterprise made, newest first."""
    query = select(ReviewRequest).where(ReviewRequest.uscc == _own_uscc(enterprise))
    found = session.scalars(keyset(query, page, [ReviewRequest.id], descending=True)).all()
    rows, next_cursor = page_rows(found, page, lambda review: [review.id])
    announce_next(request, response, next_cursor)
    return [review_out(r) for r in rows]
