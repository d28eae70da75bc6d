"""Audit anchors: the chain's head hash written outside the database, so a rewritten history is caught too.

The hash chain (``api.audit_chain``) shows any edited, deleted or reordered row, but someone who can write the
database could recompute every hash after an edit. An anchor is the head's ``seq`` and ``row_hash`` at one moment,
appended to a file that lives elsewhere (``XINYI_AUDIT_ANCHOR_PATH``: another disk, a WORM bucket's mount, or
copied off the host by the operator's scheduler). Verifying against the anchors checks that every anchored row is
still in the log with the same hash: a recomputed chain no longer matches what was anchored before it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.audit_chain import HEAD_ID
from api.db.models import AuditChainHead, AuditEvent


class AnchorError(ValueError):
    """The anchor file cannot be read: a line that is not an anchor, named by its number."""


@dataclass(frozen=True)
class Anchor:
    """The chain's head at one moment: its sequence number and hash, and when it was taken."""

    seq: int
    row_hash: str
    taken_at: str


@dataclass(frozen=True)
class AnchorMismatch:
    """An anchored row that the log no longer holds as it was: missing, or with another hash."""

    anchor: Anchor
    message: str


def take_anchor(session: Session, path: Path) -> Anchor | None:
    """Append the current head to ``path`` (created with its folder if needed) and return it; None when the log is
    empty. The line is flushed and fsynced before returning, so an anchor reported was written."""
    head = session.get(AuditChainHead, HEAD_ID)
    if head is None or head.seq == 0:
        return None
    anchor = Anchor(head.seq, head.last_hash, datetime.now(UTC).isoformat(timespec="seconds"))
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"seq": anchor.seq, "row_hash": anchor.row_hash, "taken_at": anchor.taken_at}) + "\n"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())
    return anchor


def read_anchors(path: Path) -> list[Anchor]:
    """Every anchor in ``path``, oldest first; an unreadable line raises :class:`AnchorError` naming it."""
    anchors: list[Anchor] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            anchors.append(Anchor(int(data["seq"]), str(data["row_hash"]), str(data["taken_at"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise AnchorError(f"{path} line {number} is not an anchor ({exc.__class__.__name__}): "
                              "expected {\"seq\", \"row_hash\", \"taken_at\"}") from exc
    return anchors


def check_anchors(session: Session, anchors: list[Anchor]) -> list[AnchorMismatch]:
    """The anchors the log no longer matches (empty when every anchored row is there with its hash)."""
    mismatches: list[AnchorMismatch] = []
    for anchor in anchors:
        found = session.execute(select(AuditEvent.row_hash).where(AuditEvent.seq == anchor.seq)).scalar_one_or_none()
        if found is None:
            mismatches.append(AnchorMismatch(anchor, f"seq {anchor.seq}, anchored {anchor.taken_at}, is no longer in "
                                                     "the log: the history was cut or rewritten"))
        elif found != anchor.row_hash:
            mismatches.append(AnchorMismatch(anchor, f"seq {anchor.seq}, anchored {anchor.taken_at}, has another hash "
                                                     "now: the history up to it was rewritten"))
    return mismatches
