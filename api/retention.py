"""保存期限: scores given to banks are kept ``XINYI_SCORE_RETENTION_DAYS``, then deleted in small batches.

Every score stores its whole answer (about 4.6 KB with its audit row), so without a limit the table grows with
every request served. ``prune_scores`` (``xinyi scores prune``, run daily) deletes scores given before the
cutoff, ``batch_rows`` at a time, each batch its own short transaction with a pause between, so scoring (which
needs SQLite's one write lock for its own commit) waits at most one batch. Scores that a review request names
(PIPL Art. 24) are kept with it. Audit rows are a separate table and never deleted: the access log and its hash
chain stay whole, and the prune itself leaves one audit row saying what it deleted.

Before the first batch the cutoff is stored as the table's retention mark, so ``pruned`` can tell a read of a
deleted score (its version-7 id carries the time it was given, ``api.db.ids``) from an id that never existed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, exists, func, select
from sqlalchemy.orm import Session, sessionmaker

from api.db.ids import uuid7_time
from api.db.models import AuditEvent, RetentionMark, ReviewRequest, ScoreResponse, utcnow
from config.settings import Settings

SCORES = "score_responses"
"""The retention mark's subject for stored scores."""
PRUNE_ACTION = "scores.prune"
DEFAULT_BATCH_ROWS = 500
DEFAULT_PAUSE_SECONDS = 0.05

_UNREVIEWED_BEFORE_CUTOFF = (
    ScoreResponse.requested_at < bindparam("cutoff"),
    ~exists().where(ReviewRequest.score_id == ScoreResponse.id),
)
_DELETE_BATCH = delete(ScoreResponse).where(
    ScoreResponse.id.in_(select(ScoreResponse.id).where(*_UNREVIEWED_BEFORE_CUTOFF).limit(bindparam("rows")))
).execution_options(synchronize_session=False)


@dataclass(frozen=True)
class PruneResult:
    """What one prune did: the cutoff (scores given before it were deleted), how many, in how many batches, and
    how many older scores were kept because a review request names them."""

    cutoff: datetime
    deleted: int
    batches: int
    kept_for_review: int


def retention_cutoff(settings: Settings, now: datetime) -> datetime:
    """Scores given before this moment are past the retention period."""
    return now - timedelta(days=settings.score_retention_days)


def _mark(session: Session, cutoff: datetime, now: datetime) -> None:
    """Record that scores before ``cutoff`` are deleted; a mark never moves back (a longer period set later
    does not bring deleted scores back)."""
    mark = session.get(RetentionMark, SCORES)
    if mark is None:
        session.add(RetentionMark(subject=SCORES, pruned_before=cutoff, pruned_at=now))
    else:
        mark.pruned_before = max(mark.pruned_before, cutoff)
        mark.pruned_at = now


def prune_scores(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    now: datetime | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    pause_seconds: float = DEFAULT_PAUSE_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> PruneResult:
    """Delete the scores past the retention period, ``batch_rows`` per transaction, pausing ``pause_seconds``
    between batches; then append one audit row (action ``scores.prune``) with the counts."""
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be at least 1, got {batch_rows}")
    if pause_seconds < 0:
        raise ValueError(f"pause_seconds must not be negative, got {pause_seconds}")
    now = now or utcnow()
    cutoff = retention_cutoff(settings, now)
    with factory.begin() as session:
        _mark(session, cutoff, now)
    deleted = batches = 0
    while True:
        with factory.begin() as session:
            removed = session.connection().execute(_DELETE_BATCH, {"cutoff": cutoff, "rows": batch_rows}).rowcount
        batches += 1
        deleted += removed
        if removed < batch_rows:
            break
        sleep(pause_seconds)
    with factory.begin() as session:
        kept = session.scalar(select(func.count()).select_from(ScoreResponse)
                              .where(ScoreResponse.requested_at < cutoff)) or 0
        session.add(AuditEvent(
            at=utcnow(), request_id=f"prune-{uuid.uuid4().hex[:16]}", actor_account_id=None, actor_role="system",
            action=PRUNE_ACTION, uscc=None, outcome="allowed", http_status=200,
            detail=f"deleted {deleted} scores given before {cutoff.isoformat(timespec='seconds')} "
                   f"({settings.score_retention_days} days); kept {kept} named by review requests",
        ))
    return PruneResult(cutoff, deleted, batches, kept)


def pruned(session: Session, score_id: uuid.UUID) -> datetime | None:
    """When the score with this id was given, if that is before the latest prune's cutoff (so a score with
    this id, if there was one, has been deleted); None otherwise, and for ids that carry no time."""
    given = uuid7_time(score_id)
    if given is None:
        return None
    mark = session.get(RetentionMark, SCORES)
    return given if mark is not None and given < mark.pruned_before else None
