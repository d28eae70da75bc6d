"""预授信评分: banks ask for an authorised enterprise's score, decision and limit, and read back what they got."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from api.audit import note_detail, note_uscc, outcome_of, record_in
from api.db.direct import DirectStatement
from api.db.ids import uuid7
from api.db.models import AuditEvent, EnterpriseProfile, ScoreResponse, utcnow
from api.deps import (
    AppSettings,
    AuthorizedScoreRequest,
    CurrentBank,
    DbSession,
    ScoreAsk,
    Scorer,
    ScoringGrant,
    run_db,
    scoring_grant,
)
from api.errors import ApiError, NoProfile, NotFound, ScorePastRetention
from api.metrics import metrics_of
from api.problem_json import PROBLEM_BASE
from api.ratelimit import charge
from api.retention import pruned
from api.routers.problems import problem_responses
from api.schemas import (
    MAX_BATCH_SCORES,
    ItemFieldErrorOut,
    ItemProblemOut,
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
    value = reason.value
    return {"feature": reason.feature, "points": float(reason.points),
            "value": None if value is None or not math.isfinite(value) else float(value),
            "text_zh": reason.text_zh, "text_en": reason.text_en}


def _hit_json(hit: PolicyHit) -> dict[str, Any]:
    data = asdict(hit)
    data["record"] = hit.record.to_json()
    return data


def loaded_policy(request: Request) -> PreCreditPolicy:
    """The pre-credit policy (decision table, limit, rules) the app loaded and validated at start."""
    policy: PreCreditPolicy = request.app.state.precredit_policy
    return policy


async def get_precredit_policy(request: Request) -> PreCreditPolicy:
    """``loaded_policy`` as a dependency."""
    return loaded_policy(request)


PreCredit = Annotated[PreCreditPolicy, Depends(get_precredit_policy)]

STORED_FIELDS = (
    "id", "uscc", "probability_of_default", "score", "grade", "reasons", "model_name", "model_version",
    "profile_as_of", "requested_at", "decision", "pre_credit_limit", "requested_amount", "policy_hits",
    "rule_set_version", "insufficient_data", "withheld_scopes",
)
"""The ``score_responses`` columns the API body is made of (all but ``bank_id``)."""


def score_body(stored: Mapping[str, Any]) -> ScoreOut:
    """The API body for a score given as its ``score_responses`` column values, validated in one call."""
    return ScoreOut.model_validate({
        "id": stored["id"],
        "uscc": stored["uscc"],
        "probability_of_default": stored["probability_of_default"],
        "score": stored["score"],
        "grade": stored["grade"],
        "reasons": stored["reasons"] or {"lowering": [], "raising": []},
        "model": {"name": stored["model_name"], "version": stored["model_version"]},
        "profile_as_of": stored["profile_as_of"],
        "requested_at": stored["requested_at"],
        "decision": stored["decision"],
        "pre_credit_limit": stored["pre_credit_limit"],
        "requested_amount": stored["requested_amount"],
        "policy_hits": stored["policy_hits"] or [],
        "rule_set_version": stored["rule_set_version"],
        "insufficient_data": stored["insufficient_data"] or [],
        "withheld_scopes": stored["withheld_scopes"] or [],
    })


def score_out(row: ScoreResponse) -> ScoreOut:
    """The API body for a stored score."""
    return score_body({name: getattr(row, name) for name in STORED_FIELDS})


_LATEST_PROFILE = DirectStatement(
    select(EnterpriseProfile.as_of, EnterpriseProfile.features, EnterpriseProfile.policy_facts)
    .where(EnterpriseProfile.uscc == bindparam("uscc"))
    .order_by(EnterpriseProfile.as_of.desc())
    .limit(1)
)
_KEEP_RESPONSE = DirectStatement(insert(ScoreResponse))


def assess_and_keep(
    session: Session, scorer: ScoreProvider, policy: PreCreditPolicy, bank_id: int, grant: ScoringGrant,
    requested_amount: float | None, *, keep: bool = True,
) -> dict[str, Any]:
    """Assess an authorised enterprise from its latest profile and policy facts, from the data scopes its grant
    allows only, and keep the response as given; 404 (no profile) when there is nothing to score. The one scoring
    path of single and batch requests; returns the stored row's column values. With ``keep=False`` nothing is
    written: the caller inserts the row (``keep_response``) and commits it with its audit row.

    Reads and the insert run on the session's connection's cursor (``api.db.direct``; no ORM objects, no
    execution context): this is the hot path of ``POST /v1/scores``."""
    connection = session.connection()
    profile = _LATEST_PROFILE.first(connection, {"uscc": grant.uscc})
    if profile is None:
        raise NoProfile("The enterprise has no profile to score yet.")
    as_of, features, policy_facts = profile
    facts = PolicyFacts.from_json(policy_facts) if policy_facts is not None else None
    result = policy.assess(scorer, grant.uscc, features, as_of, facts, requested_amount,
                           granted_scopes=grant.data_scopes)
    pd_ = result.probability_of_default
    limit = result.pre_credit_limit
    requested_at = utcnow()
    stored = {
        "id": uuid7(requested_at),  # time-ordered: a read after retention can tell "deleted" (api.retention)
        "uscc": grant.uscc,
        "bank_id": bank_id,
        "requested_at": requested_at,
        "probability_of_default": None if pd_ is None else float(pd_),
        "score": None if result.score is None else int(result.score),
        "grade": result.grade,
        "reasons": {
            "lowering": [_reason_json(r) for r in result.reasons_lowering],
            "raising": [_reason_json(r) for r in result.reasons_raising],
        },
        "model_name": result.model_name,
        "model_version": result.model_version,
        "profile_as_of": result.profile_as_of,
        "requested_amount": requested_amount,
        "decision": result.decision,
        "pre_credit_limit": asdict(limit) if limit is not None else None,
        "policy_hits": [_hit_json(hit) for hit in result.policy_hits],
        "rule_set_version": result.rule_set_version,
        "insufficient_data": [asdict(m) for m in result.insufficient_data],
        "withheld_scopes": list(result.withheld_scopes) or None,
    }
    if keep:
        keep_response(session, stored)
        session.commit()
    return stored


def keep_response(session: Session, stored: dict[str, Any]) -> None:
    """Insert a score as given (its ``assess_and_keep`` column values), in the session's transaction."""
    _KEEP_RESPONSE.rows(session.connection(), stored)


@router.post(
    "",
    name="score.create",
    summary="Score an enterprise that has authorised this bank",
    response_model=ScoreOut,
    responses=problem_responses(401, 403, 404, 422, 429, 503),
)
async def create_score(ask: AuthorizedScoreRequest, session: DbSession, scorer: Scorer, request: Request) -> Response:
    """Assess the enterprise from its latest profile and policy facts, and keep the response as given.

    The stored response and this request's audit row commit in one transaction, after the body is built, so
    nothing that can fail comes between the commit and the answer. On SQLite the whole request runs on the event
    loop (a score is about half a millisecond of CPU, the reads and the commit short and local), on PostgreSQL
    in a thread (``run_db``; docs/operations.md).
    """
    stored, body = await run_db(request, _score_and_record, session, scorer, loaded_policy(request), ask, request)
    metrics_of(request).record_score(stored["grade"], stored["decision"])
    return Response(body, media_type="application/json")


def _score_and_record(session: Session, scorer: ScoreProvider, policy: PreCreditPolicy, ask: ScoreAsk,
                      request: Request) -> tuple[dict[str, Any], bytes]:
    stored = assess_and_keep(session, scorer, policy, ask.bank_id, ask.grant, ask.body.requested_amount, keep=False)
    body = score_body(stored).model_dump_json().encode()
    keep_response(session, stored)  # the writes start here: SQLite's write lock is held only from here to the commit
    record_in(session, request, 200)
    session.commit()
    return stored, body


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
        stored = assess_and_keep(session, scorer, policy, bank_id, scoring_grant(session, uscc, bank_id, purpose),
                                 None)
    except ApiError as exc:
        session.rollback()
        problem = ItemProblemOut(type=PROBLEM_BASE + exc.slug, title=exc.title, detail=exc.detail,
                                 errors=[ItemFieldErrorOut(field=e.field, rule=e.rule, message=e.message)
                                         for e in exc.errors])
        return ScoreBatchResult(index=index, uscc=uscc, status=exc.status, problem=problem)
    return ScoreBatchResult(index=index, uscc=uscc, status=200, score=score_body(stored))


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


def own_score(
    score_id: uuid.UUID, request: Request, bank: CurrentBank, session: DbSession, settings: AppSettings
) -> ScoreResponse:
    """A score this bank was given; 404 for unknown ids and for other banks' scores alike; 410 for an id from
    before the latest prune (``api.retention``), which depends on the id alone, so it tells no bank whose it was."""
    row = session.get(ScoreResponse, score_id)
    if row is None and (given := pruned(session, score_id)) is not None:
        raise ScorePastRetention(
            f"Scores are kept {settings.score_retention_days} days; one with this id would have been given on "
            f"{given:%Y-%m-%d} and is no longer kept."
        )
    if row is None or row.bank_id != bank.bank_id:
        raise NotFound("No score with this id was given to this bank.")
    note_uscc(request, row.uscc)
    return row


OwnScore = Annotated[ScoreResponse, Depends(own_score)]


@router.get(
    "/{score_id}",
    name="score.read",
    summary="Read back a score given to this bank",
    responses=problem_responses(401, 403, 404, 410, 422, 429),
)
def read_score(score: OwnScore) -> ScoreOut:
    """The stored score, exactly as it was returned."""
    return score_out(score)
