"""预授信评分: banks ask for an authorised enterprise's score, decision and limit, and read back what they got."""

from __future__ import annotations

import math
import uuid
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select

from api.audit import note_uscc
from api.db.models import EnterpriseProfile, ScoreResponse, utcnow
from api.deps import AuthorizedScoreRequest, CurrentBank, DbSession, Scorer
from api.errors import NoProfile, NotFound
from api.routers.problems import problem_responses
from api.schemas import (
    MissingDataOut,
    ModelOut,
    PolicyHitOut,
    PreCreditLimitOut,
    ReasonOut,
    ReasonsOut,
    ScoreOut,
)
from scoring.facts import PolicyFacts
from scoring.precredit import PreCreditPolicy
from scoring.types import PolicyHit, Reason

router = APIRouter(prefix="/v1/scores", tags=["bank"])


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


def get_precredit_policy(request: Request) -> PreCreditPolicy:
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
    )


@router.post(
    "",
    name="score.create",
    summary="Score an enterprise that has authorised this bank",
    responses=problem_responses(401, 403, 404, 422, 503),
)
def create_score(
    ask: AuthorizedScoreRequest,
    bank: CurrentBank,
    session: DbSession,
    scorer: Scorer,
    policy: PreCredit,
) -> ScoreOut:
    """Assess the enterprise from its latest profile and policy facts, and keep the response as given."""
    enterprise, body = ask.enterprise, ask.body
    profile = session.scalars(
        select(EnterpriseProfile)
        .where(EnterpriseProfile.uscc == enterprise.uscc)
        .order_by(EnterpriseProfile.as_of.desc())
        .limit(1)
    ).first()
    if profile is None:
        raise NoProfile("The enterprise has no profile to score yet.")
    facts = PolicyFacts.from_json(profile.policy_facts) if profile.policy_facts is not None else None
    result = policy.assess(scorer, enterprise.uscc, profile.features, profile.as_of, facts, body.requested_amount)
    assert bank.bank_id is not None  # guaranteed by CurrentBank
    pd_ = result.probability_of_default
    row = ScoreResponse(
        id=uuid.uuid4(),
        uscc=enterprise.uscc,
        bank_id=bank.bank_id,
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
        requested_amount=body.requested_amount,
        decision=result.decision,
        pre_credit_limit=asdict(result.pre_credit_limit) if result.pre_credit_limit is not None else None,
        policy_hits=[_hit_json(hit) for hit in result.policy_hits],
        rule_set_version=result.rule_set_version,
        insufficient_data=[asdict(m) for m in result.insufficient_data],
    )
    session.add(row)
    session.commit()
    return score_out(row)


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
    responses=problem_responses(401, 403, 404, 422),
)
def read_score(score: OwnScore) -> ScoreOut:
    """The stored score, exactly as it was returned."""
    return score_out(score)
