"""预授信评分: banks ask for an authorised enterprise's score, decision and limit, and read back what they got."""

from __future__ import annotations

import math
import uuid
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.audit import note_detail, note_uscc, outcome_of, record_in
from api.db.models import AuditEvent, EnterpriseProfile, ScoreResponse, utcnow
from api.deps import (
    AuthorizedScoreRequest,
    CurrentBank,
    DbSession,
    ScoreAsk,
    Scorer,
    ScoringGrant,
    run_db,
    scoring_grant,
)
from api.errors import PROBLEM_BASE, ApiError, NoProfile, NotFound
from api.metrics import metrics_of
from api.ratelimit import charge
from api.routers.problems import problem_responses
from api.schemas import (
    MAX_BATCH_SCORES,
    ItemFieldErrorOut,
    ItemProblemOut,
    MissingDataOut,
    ModelOut,
    PolicyHitOut,
    PreCreditLimitOut,
    ReasonOut,
    ReasonsOut,
    ScoreBatchOut,
    ScoreBatchRequest,
    ScoreBatchResult,
    ScoreOut,
)
from scoring.facts import PolicyFacts
from scoring.precredit import PreCreditPolicy
from scoring.types import PolicyHit, Reason, ScoreProvider

router = APIRouter(prefix="/v1/scores", tags=["bank"])
BATCH_ITEM_ACTION = "score.create_batch_item"


def _reason_json(reason: Reason) -> dict[str, Any]:
    data = asdict(reason)
    value = data.get("value")
    data["value"] = None if value is None or not math.isfinite(value) else float(value)
    data["points"] = float(data["points"])
    return data


def _hit_json(hit: PolicyHit) -> dict[str, Any]:
    data = asdict(hit)
    data["record"] = hit.record.to_json()
    return data


async def get_precredit_policy(request: Request) -> PreCreditPolicy:
    """The pre-credit policy (decision table, limit, rules) the app loaded and validated at start."""
    policy: PreCreditPolicy = request.app.state.precredit_policy
    return policy


PreCredit = Annotated[PreCreditPolicy, Depends(get_precredit_policy)]


def score_out(row: ScoreResponse) -> ScoreOut:
    """The API body for a stored score."""
    reasons = row.reasons or {}
    return ScoreOut(
        id=row.id,
        uscc=row.uscc,
        probability_of_default=row.probability_of_default,
        score=row.score,
        grade=row.grade,
        reasons=ReasonsOut(
            lowering=[ReasonOut(**r) for r in reasons.get("lowering", [])],
            raising=[ReasonOut(**r) for r in reasons.get("raising", [])],
        ),
        model=ModelOut(name=row.model_name, version=row.model_version),
        profile_as_of=row.profile_as_of,
        requested_at=row.requested_at,
        decision=row.decision,
        pre_credit_limit=PreCreditLimitOut(**row.pre_credit_limit) if row.pre_credit_limit else None,
        requested_amount=row.requested_amount,
        policy_hits=[PolicyHitOut(**hit) for hit in row.policy_hits or []],
        rule_set_version=row.rule_set_version,
        insufficient_data=[MissingDataOut(**m) for m in row.insufficient_data or []],
        withheld_scopes=row.withheld_scopes or [],
    )


def assess_and_keep(
    session: Session, scorer: ScoreProvider, policy: PreCreditPolicy, bank_id: int, grant: ScoringGrant,
    requested_amount: float | None, *, commit: bool = True,
) -> ScoreResponse:
    """Assess an authorised enterprise from its latest profile and policy facts, from the data scopes its grant
    allows only, and keep the response as given; 404 (no profile) when there is nothing to score. The one scoring
    path of single and batch requests; with ``commit=False`` the row is only added, for the caller to commit with
    its audit row."""
    enterprise = grant.enterprise
    profile = session.scalars(
        select(EnterpriseProfile)
        .where(EnterpriseProfile.uscc == enterprise.uscc)
        .order_by(EnterpriseProfile.as_of.desc())
        .limit(1)
    ).first()
    if profile is None:
        raise NoProfile("The enterprise has no profile to score yet.")
    facts = PolicyFacts.from_json(profile.policy_facts) if profile.policy_facts is not None else None
    result = policy.assess(scorer, enterprise.uscc, profile.features, profile.as_of, facts, requested_amount,
                           granted_scopes=grant.data_scopes)
    pd_ = result.probability_of_default
    row = ScoreResponse(
        id=uuid.uuid4(),
        uscc=enterprise.uscc,
        bank_id=bank_id,
        requested_at=utcnow(),
        probability_of_default=None if pd_ is None else float(pd_),
        score=None if result.score is None else int(result.score),
        grade=result.grade,
        reasons={
            "lowering": [_reason_json(r) for r in result.reasons_lowering],
            "raising": [_reason_json(r) for r in result.reasons_raising],
        },
        model_name=result.model_name,
        model_version=result.model_version,
        profile_as_of=result.profile_as_of,
        requested_amount=requested_amount,
        decision=result.decision,
        pre_credit_limit=asdict(result.pre_credit_limit) if result.pre_credit_limit is not None else None,
        policy_hits=[_hit_json(hit) for hit in result.policy_hits],
        rule_set_version=result.rule_set_version,
        insufficient_data=[asdict(m) for m in result.insufficient_data],
        withheld_scopes=list(result.withheld_scopes) or None,
    )
    session.add(row)
    if commit:
        session.commit()
    return row


@router.post(
    "",
    name="score.create",
    summary="Score an enterprise that has authorised this bank",
    response_model=ScoreOut,
    responses=problem_responses(401, 403, 404, 422, 429, 503),
)
async def create_score(
    ask: AuthorizedScoreRequest,
    bank: CurrentBank,
    session: DbSession,
    scorer: Scorer,
    policy: PreCredit,
    request: Request,
) -> Response:
    """Assess the enterprise from its latest profile and policy facts, and keep the response as given.

    The stored response and this request's audit row commit in one transaction, after the body is built, so
    nothing that can fail comes between the commit and the answer. On SQLite the whole request runs on the event
    loop (a score is about half a millisecond of CPU, the reads and the commit short and local), on PostgreSQL
    in a thread (``run_db``; docs/operations.md).
    """
    assert bank.bank_id is not None  # guaranteed by CurrentBank
    row, body = await run_db(request, _score_and_record, session, scorer, policy, bank.bank_id, ask, request)
    metrics_of(request).record_score(row.grade, row.decision)
    return Response(body, media_type="application/json")


def _score_and_record(session: Session, scorer: ScoreProvider, policy: PreCreditPolicy, bank_id: int,
                      ask: ScoreAsk, request: Request) -> tuple[ScoreResponse, str]:
    row = assess_and_keep(session, scorer, policy, bank_id, ask.grant, ask.body.requested_amount, commit=False)
    body = score_out(row).model_dump_json()
    record_in(session, request, 200)
    session.commit()
    return row, body


def charged_batch(request: Request, bank: CurrentBank, body: ScoreBatchRequest) -> ScoreBatchRequest:
    """The batch, once the bank's rate limit has given one token per enterprise (the request took the first)."""
    if len(body.usccs) > 1:
        charge(request, bank.id, len(body.usccs) - 1)
    return body


ChargedBatch = Annotated[ScoreBatchRequest, Depends(charged_batch)]


def _batch_item(
    session: Session, scorer: ScoreProvider, policy: PreCreditPolicy, bank_id: int, purpose: str, index: int,
    uscc: str,
) -> ScoreBatchResult:
    """One enterprise as ``POST /v1/scores`` would treat it; a refusal is its result, not the batch's."""
    try:
        row = assess_and_keep(session, scorer, policy, bank_id, scoring_grant(session, uscc, bank_id, purpose), None)
    except ApiError as exc:
        session.rollback()
        problem = ItemProblemOut(type=PROBLEM_BASE + exc.slug, title=exc.title, detail=exc.detail,
                                 errors=[ItemFieldErrorOut(field=e.field, rule=e.rule, message=e.message)
                                         for e in exc.errors])
        return ScoreBatchResult(index=index, uscc=uscc, status=exc.status, problem=problem)
    return ScoreBatchResult(index=index, uscc=uscc, status=200, score=score_out(row))


@router.post(
    "/batch",
    name="score.create_batch",
    summary=f"Score up to {MAX_BATCH_SCORES} enterprises at once, each checked on its own",
    responses=problem_responses(401, 403, 422, 429, 503),
)
def create_scores(
    body: ChargedBatch, bank: CurrentBank, session: DbSession, scorer: Scorer, policy: PreCredit, request: Request
) -> ScoreBatchOut:
    """Each enterprise is authorised (its grant to this bank for ``purpose``, with scope score) and scored exactly
    as ``POST /v1/scores`` would, with its own status and score or problem, and its own audit row naming it.
    Counts as one request per enterprise against the rate limit."""
    assert bank.bank_id is not None  # guaranteed by CurrentBank
    request_id: str = request.state.request_id
    metrics = metrics_of(request)
    results = []
    for index, uscc in enumerate(body.usccs):
        result = _batch_item(session, scorer, policy, bank.bank_id, body.purpose, index, uscc)
        if result.score is not None:
            metrics.record_score(result.score.grade, result.score.decision)
        session.add(AuditEvent(at=utcnow(), request_id=request_id, actor_account_id=bank.id, actor_role="bank",
                               action=BATCH_ITEM_ACTION, uscc=uscc, outcome=outcome_of(result.status),
                               http_status=result.status, detail=f"item {index}, purpose {body.purpose}"))
        session.commit()
        results.append(result)
    scored = sum(r.status == 200 for r in results)
    note_detail(request, f"batch of {len(results)} for {body.purpose}: {scored} scored")
    return ScoreBatchOut(purpose=body.purpose, results=results, scored=scored, refused=len(results) - scored)


def own_score(score_id: uuid.UUID, request: Request, bank: CurrentBank, session: DbSession) -> ScoreResponse:
    """A score this bank was given; 404 for unknown ids and for other banks' scores alike."""
    row = session.get(ScoreResponse, score_id)
    if row is None or row.bank_id != bank.bank_id:
        raise NotFound("No score with this id was given to this bank.")
    note_uscc(request, row.uscc)
    return row


OwnScore = Annotated[ScoreResponse, Depends(own_score)]


@router.get(
    "/{score_id}",
    name="score.read",
    summary="Read back a score given to this bank",
    responses=problem_responses(401, 403, 404, 422, 429),
)
def read_score(score: OwnScore) -> ScoreOut:
    """The stored score, exactly as it was returned."""
    return score_out(score)
