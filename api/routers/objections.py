"""异议处理: an enterprise disputes a record and follows it; an operator takes it in review and decides it.
Operators also see every request for human review (PIPL Art. 24)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlalchemy import select

from api.audit import note_detail, note_uscc
from api.db.models import Objection, ReviewRequest
from api.deps import CurrentEnterprise, CurrentOperator, DbSession, RowId
from api.errors import NotFound
from api.pagination import PAGE_HEADERS, CursorPagination, announce_next, keyset, page_rows
from api.routers.enterprise import review_out
from api.routers.problems import problem_responses
from api.schemas_enterprise import (
    ObjectionChangeOut,
    ObjectionCreate,
    ObjectionDecision,
    ObjectionOut,
    ObjectionStatus,
    ReviewOut,
)
from api.self_service import history, move_objection, submit_objection

router = APIRouter()


def objections_out(session: DbSession, objections: Sequence[Objection]) -> list[ObjectionOut]:
    """The objections with their receipts."""
    changes = history(session, [o.id for o in objections])
    return [
        ObjectionOut(
            id=o.id, uscc=o.uscc, source=o.source, record_key=o.record_key, reason=o.reason,
            status=cast(ObjectionStatus, o.status), submitted_at=o.submitted_at, updated_at=o.updated_at,
            decision_note=o.decision_note,
            history=[ObjectionChangeOut(status=cast(ObjectionStatus, c.status), at=c.at, note=c.note)
                     for c in changes[o.id]],
        )
        for o in objections
    ]


@router.post(
    "/v1/enterprise/objections",
    name="objection.create",
    tags=["enterprise"],
    status_code=status.HTTP_201_CREATED,
    summary="Dispute a record (异议)",
    responses=problem_responses(401, 403, 409, 422),
)
def create_objection(body: ObjectionCreate, enterprise: CurrentEnterprise, session: DbSession) -> ObjectionOut:
    """File an objection to one record (its source and key); the record shows as disputed in the profile until
    the objection is decided. The response is the receipt."""
    assert enterprise.uscc is not None  # guaranteed by CurrentEnterprise
    objection = submit_objection(session, uscc=enterprise.uscc, account_id=enterprise.id, source=body.source,
                                 record_key=body.record_key, reason=body.reason)
    return objections_out(session, [objection])[0]


@router.get(
    "/v1/enterprise/objections",
    name="objection.list_own",
    tags=["enterprise"],
    summary="This enterprise's objections and where each stands",
    responses={200: {"headers": PAGE_HEADERS}, **problem_responses(401, 403, 422)},
)
def list_own_objections(
    enterprise: CurrentEnterprise, session: DbSession, page: CursorPagination, request: Request, response: Response
) -> list[ObjectionOut]:
    """Every objection this enterprise filed, newest first, each with its history of receipts."""
    query = select(Objection).where(Objection.uscc == enterprise.uscc)
    found = session.scalars(keyset(query, page, [Objection.id], descending=True)).all()
    rows, next_cursor = page_rows(found, page, lambda objection: [objection.id])
    announce_next(request, response, next_cursor)
    return objections_out(session, rows)


@router.get(
    "/v1/objections",
    name="objection.list",
    tags=["operator"],
    summary="Objections to work on",
    responses={200: {"headers": PAGE_HEADERS}, **problem_responses(401, 403, 422)},
)
def list_objections(
    operator: CurrentOperator,
    session: DbSession,
    page: CursorPagination,
    request: Request,
    response: Response,
    state: Annotated[ObjectionStatus | None, Query(alias="status", description="Only this status.")] = None,
) -> list[ObjectionOut]:
    """Objections of every enterprise, oldest first (the queue order), optionally of one status."""
    query = select(Objection)
    if state is not None:
        query = query.where(Objection.status == state)
    found, next_cursor = page_rows(session.scalars(keyset(query, page, [Objection.id], descending=False)).all(),
                                   page, lambda objection: [objection.id])
    announce_next(request, response, next_cursor)
    note_detail(request, "objections " + ",".join(str(o.id) for o in found))  # several enterprises: ids, not USCC
    return objections_out(session, found)


def any_objection(objection_id: RowId, request: Request, operator: CurrentOperator, session: DbSession) -> Objection:
    """The objection an operator names; 404 if there is none. Notes its enterprise for the audit row."""
    objection = session.get(Objection, objection_id)
    if objection is None:
        raise NotFound("No objection with this id.")
    note_uscc(request, objection.uscc)
    return objection


AnyObjection = Annotated[Objection, Depends(any_objection)]


@router.post(
    "/v1/objections/{objection_id}/decision",
    name="objection.decide",
    tags=["operator"],
    summary="Take an objection in review, or decide it (corrected or rejected, with a note)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def decide_objection(
    body: ObjectionDecision, objection: AnyObjection, operator: CurrentOperator, session: DbSession,
    request: Request,
) -> ObjectionOut:
    """submitted → in_review → corrected | rejected; each step leaves a receipt the enterprise reads."""
    move_objection(session, objection, to=body.status, account_id=operator.id, note=body.note)
    note_detail(request, f"objection {objection.id} {body.status}")
    return objections_out(session, [objection])[0]


@router.get(
    "/v1/reviews",
    name="review.list",
    tags=["operator"],
    summary="Requests for human review of automated decisions (PIPL Art. 24)",
    responses={200: {"headers": PAGE_HEADERS}, **problem_responses(401, 403, 422)},
)
def list_reviews(
    operator: CurrentOperator, session: DbSession, page: CursorPagination, request: Request, response: Response
) -> list[ReviewOut]:
    """Every enterprise's review requests, oldest first."""
    found = session.scalars(keyset(select(ReviewRequest), page, [ReviewRequest.id], descending=False)).all()
    rows, next_cursor = page_rows(found, page, lambda review: [review.id])
    announce_next(request, response, next_cursor)
    note_detail(request, "reviews " + ",".join(str(r.id) for r in rows))  # several enterprises: ids, not USCC
    return [review_out(r) for r in rows]

