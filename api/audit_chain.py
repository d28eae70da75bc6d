"""防篡改留痕: the audit log as a hash chain, appended one writer at a time, and its verifier.

Each ``audit_events`` row carries ``row_hash`` = SHA-256 over a canonical serialisation of its fields and
``prev_hash``, the previous row's ``row_hash`` (``GENESIS_HASH`` for the first). ``seq`` is its position. An
append locks the one ``audit_chain_head`` row (``UPDATE … RETURNING``: a row lock on PostgreSQL, the single
write lock on SQLite), so concurrent writers extend the chain in turn. Every session appends this way: a
``before_flush`` listener chains each new ``AuditEvent``, whoever adds it, and refuses to update or delete one.

``verify_chain`` walks the log in ``seq`` order and names the first broken link: a row whose fields no longer
match its hash (edited), rows missing from the sequence (deleted), a row chained to a later one (reordered), or
a log that ends before the head says it should (the newest rows deleted).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, bindparam, event, func, insert, inspect, select, update
from sqlalchemy.orm import Session, UOWTransaction

from api.db.direct import DirectStatement
from api.db.models import AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64
HEAD_ID = 1
HASH_VERSION = "xinyi-audit-v1"
"""Prefix of every hashed serialisation; a new serialisation would get a new version, never a silent change."""

HASHED_FIELDS = (
    "at", "request_id", "actor_account_id", "actor_role", "action", "uscc", "outcome", "http_status", "detail",
)
"""What a row's hash covers besides ``prev_hash``. ``id`` and ``seq`` are positions, checked by the links."""

BreakKind = Literal["edited", "deleted", "reordered", "truncated", "no_head"]


class AppendOnlyError(RuntimeError):
    """Something tried to update or delete an audit row, or to append without a chain head."""


def _canonical_time(at: datetime) -> str:
    if at.tzinfo is None:  # SQLite hands back naive UTC values when read without the ORM type
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def compute_row_hash(fields: dict[str, Any], prev_hash: str) -> str:
    """SHA-256 (hex) of one row: its ``HASHED_FIELDS`` as sorted, compact JSON, then the previous row's hash."""
    values = {name: fields[name] for name in HASHED_FIELDS}
    values["at"] = _canonical_time(values["at"])
    payload = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{HASH_VERSION}\n{payload}\n{prev_hash}".encode()).hexdigest()


def _fields(row: AuditEvent) -> dict[str, Any]:
    return {name: getattr(row, name) for name in HASHED_FIELDS}


_CLAIM_HEAD = DirectStatement(
    update(AuditChainHead)
    .where(AuditChainHead.id == HEAD_ID)
    .values(seq=AuditChainHead.seq + bindparam("count"))
    .returning(AuditChainHead.seq, AuditChainHead.last_hash)
)
"""Locks the head (a row lock on PostgreSQL, the write lock on SQLite) and reads it, in one statement."""
_MOVE_HEAD = DirectStatement(
    update(AuditChainHead).where(AuditChainHead.id == HEAD_ID).values(last_hash=bindparam("last_hash"))
)


_INSERT_EVENT = DirectStatement(insert(AuditEvent))


def _claim(connection: Connection, count: int) -> tuple[int, str]:
    """Lock the head and move its ``seq`` on by ``count``: the ``seq`` and hash of the row the new ones follow."""
    claimed = _CLAIM_HEAD.first(connection, {"count": count})
    if claimed is None:
        raise AppendOnlyError("audit_chain_head has no row: migrate the database (xinyi migrate) first")
    return claimed[0] - count, claimed[1]


def append_row(session: Session, fields: dict[str, Any]) -> None:
    """Chain and insert one audit row, given as its ``HASHED_FIELDS``, in the session's transaction at once.

    The same head lock, hash and head move as ``append_to_chain``, as three statements on the cursor
    (``api.db.direct``) instead of the unit of work's flush: the hot path of ``POST /v1/scores``
    (``api.audit.record_in``).
    """
    connection = session.connection()
    last_seq, prev_hash = _claim(connection, 1)
    row_hash = compute_row_hash(fields, prev_hash)
    _INSERT_EVENT.rows(connection, {**fields, "seq": last_seq + 1, "prev_hash": prev_hash, "row_hash": row_hash})
    _MOVE_HEAD.rows(connection, {"last_hash": row_hash})


def append_to_chain(session: Session, events: list[AuditEvent]) -> None:
    """Give ``events`` (not yet inserted, in insertion order) their place in the chain and move the head.

    The head row stays locked until the session's transaction ends, so no other writer can chain between.
    """
    if not events:
        return
    connection = session.connection()
    last_seq, prev_hash = _claim(connection, len(events))
    for offset, row in enumerate(events, start=1):
        row.seq = last_seq + offset
        row.prev_hash = prev_hash
        row.row_hash = prev_hash = compute_row_hash(_fields(row), prev_hash)
    _MOVE_HEAD.rows(connection, {"last_hash": prev_hash})


@event.listens_for(Session, "before_flush")
def _chain_new_audit_events(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    """Every session: refuse changes to stored audit rows; chain new ones in the order they were added."""
    edited = [obj for obj in session.dirty if isinstance(obj, AuditEvent) and session.is_modified(obj)]
    if edited or any(isinstance(obj, AuditEvent) for obj in session.deleted):
        raise AppendOnlyError("audit_events is append-only: rows are never updated or deleted")
    fresh = [obj for obj in session.new if isinstance(obj, AuditEvent)]
    fresh.sort(key=lambda obj: inspect(obj).insert_order or 0)
    append_to_chain(session, fresh)


@dataclass(frozen=True)
class ChainBreak:
    """The first broken link: which row, what kind of tampering it shows, and a sentence saying so."""

    row_id: int | None
    seq: int | None
    kind: BreakKind
    message: str


@dataclass(frozen=True)
class VerificationResult:
    """What ``verify_chain`` found: how many rows it checked and the first break, if any."""

    rows_checked: int
    head_seq: int | None
    first_break: ChainBreak | None

    @property
    def ok(self) -> bool:
        """True when every link holds and the log ends where the head says."""
        return self.first_break is None


def _link_break(session: Session, row: AuditEvent, expected_seq: int) -> ChainBreak:
    """Why ``row`` does not chain to the row before it."""
    if row.seq > expected_seq:
        missing = f"seq {expected_seq}" if row.seq == expected_seq + 1 else f"seq {expected_seq}–{row.seq - 1}"
        return ChainBreak(row.id, row.seq, "deleted",
                          f"rows before row {row.id} are missing ({missing}): deleted")
    chained_to = session.execute(
        select(AuditEvent.id, AuditEvent.seq).where(AuditEvent.row_hash == row.prev_hash)
    ).first()
    if chained_to is not None:
        return ChainBreak(row.id, row.seq, "reordered",
                          f"row {row.id} (seq {row.seq}) chains to row {chained_to.id} (seq {chained_to.seq}), not "
                          "to the row before it: rows were reordered")
    return ChainBreak(row.id, row.seq, "deleted",
                      f"row {row.id} (seq {row.seq}) chains to a row that is no longer in the log: its predecessor "
                      "was deleted or rewritten")


def verify_chain(session: Session, batch_rows: int = 5_000) -> VerificationResult:
    """Walk ``audit_events`` in chain order and return the first broken link, or none."""
    head = session.get(AuditChainHead, HEAD_ID)
    if head is None:
        return VerificationResult(0, None, ChainBreak(None, None, "no_head", "audit_chain_head has no row"))
    prev_hash, expected_seq, checked, last_id = GENESIS_HASH, 1, 0, None
    rows = session.execute(select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=batch_rows))
    for row in rows.scalars():
        if compute_row_hash(_fields(row), row.prev_hash) != row.row_hash:
            return VerificationResult(checked, head.seq, ChainBreak(
                row.id, row.seq, "edited", f"row {row.id} (seq {row.seq}) no longer matches its hash: edited"))
        if row.prev_hash != prev_hash or row.seq != expected_seq:
            return VerificationResult(checked, head.seq, _link_break(session, row, expected_seq))
        prev_hash, expected_seq, checked, last_id = row.row_hash, row.seq + 1, checked + 1, row.id
    last_seq = expected_seq - 1
    if head.seq > last_seq:
        total = int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)
        return VerificationResult(checked, head.seq, ChainBreak(
            last_id, last_seq, "truncated",
            f"the log ends at seq {last_seq} ({total} rows) but the head names seq {head.seq}: the newest rows "
            "were deleted"))
    if head.seq != last_seq or head.last_hash != prev_hash:
        return VerificationResult(checked, head.seq, ChainBreak(
            last_id, last_seq, "edited",
            f"the newest row (seq {last_seq}) is not the one the head names (seq {head.seq}): it was rewritten"))
    return VerificationResult(checked, head.seq, None)
