"""Which version was champion when: an append-only JSON-lines history next to the MLflow store.

MLflow moves an alias without remembering where it pointed before, so every change of ``champion``
(first registration, promotion, rollback) appends one line: when, which version, which it replaced, what
did it and why (for a promotion, the out-of-time comparison that allowed it). The file is the audit trail a
model-risk team asks for; it is never rewritten.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

CHAMPION = "champion"
CHALLENGER = "challenger"
HISTORY_FOLDER = "champion_history"

Action = Literal["register", "promote", "rollback"]


@dataclass(frozen=True)
class ChampionEvent:
    """One change of the champion alias."""

    at: str
    model: str
    version: str
    previous: str | None
    action: Action
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def now(
        cls, model: str, version: str, previous: str | None, action: Action, reason: str,
        evidence: dict[str, Any] | None = None,
    ) -> ChampionEvent:
        """An event stamped with the current UTC time."""
        return cls(datetime.now(UTC).isoformat(timespec="seconds"), model, version, previous, action, reason,
                   evidence or {})


def default_history_path(tracking_uri: str, model_name: str) -> Path:
    """``champion_history/<model>.jsonl`` beside a SQLite store or inside a file store.

    Other stores (a tracking server, PostgreSQL) have no folder of their own: pass a path explicitly.
    """
    parsed = urlparse(tracking_uri)
    if parsed.scheme == "sqlite":
        base = Path(unquote(tracking_uri.removeprefix("sqlite:///"))).parent
    elif parsed.scheme in ("", "file"):
        base = Path(unquote(parsed.path))
    else:
        raise ValueError(f"no default champion history for the store {tracking_uri!r}; pass history_path")
    return base / HISTORY_FOLDER / f"{model_name}.jsonl"


def record_champion(path: Path, event: ChampionEvent) -> None:
    """Append ``event`` as one line and flush it to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(asdict(event), ensure_ascii=False, default=str) + "\n")
        out.flush()
        os.fsync(out.fileno())


def read_history(path: Path) -> list[ChampionEvent]:
    """Every recorded change, oldest first (an absent file is an empty history)."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [ChampionEvent(**json.loads(line)) for line in lines if line.strip()]


def champion_at(path: Path, moment: str) -> str | None:
    """The version that was champion at ``moment`` (ISO-8601 UTC), or None before the first one."""
    version = None
    for event in read_history(path):
        if event.at <= moment:
            version = event.version
    return version


def unrecorded_change(path: Path, model: str, champion: str | None) -> ChampionEvent | None:
    """The event a run killed between moving the ``champion`` alias and recording it failed to write, if the
    alias names a version the history does not end with; ``None`` when history and registry agree."""
    if champion is None:
        return None
    events = [event for event in read_history(path) if event.model == model]
    last = events[-1].version if events else None
    if last == champion:
        return None
    action: Action = "register" if last is None else ("rollback" if int(champion) < int(last) else "promote")
    return ChampionEvent.now(model, champion, last, action,
                             "recorded on a later run: the alias had moved but the run that moved it was "
                             "interrupted before recording it")

