"""Audit anchors: a history rewritten with every hash recomputed passes the chain check but not the anchors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api import cli
from api.audit_anchor import AnchorError, check_anchors, read_anchors, take_anchor
from api.audit_chain import GENESIS_HASH, HASHED_FIELDS, compute_row_hash
from api.db.models import AuditEvent
from config import settings as settings_module
from tests.api.test_audit_chain import log, tamper, verify


@pytest.fixture
def anchors(tmp_path: Path) -> Path:
    return tmp_path / "elsewhere" / "anchors.jsonl"


@pytest.fixture
def cli_env(database_url: str, engine: Engine, anchors: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The CLI pointed at the test database and an anchor file of the test's own."""
    monkeypatch.setenv("XINYI_DATABASE_URL", database_url)
    monkeypatch.setenv("XINYI_AUDIT_ANCHOR_PATH", str(anchors))
    settings_module.get_settings.cache_clear()
    yield engine
    settings_module.get_settings.cache_clear()


def rewrite_history(engine: Engine, seq: int, uscc: str) -> None:
    """An intruder with database access edits one row and recomputes every hash after it, and the head."""
    with Session(engine) as session:
        rows = list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
    prev, statements = GENESIS_HASH, []
    for row in rows:
        fields = {name: getattr(row, name) for name in HASHED_FIELDS}
        if row.seq == seq:
            fields["uscc"] = uscc
            statements.append(f"UPDATE audit_events SET uscc = '{uscc}' WHERE id = {row.id}")
        new_hash = compute_row_hash(fields, prev)
        statements.append(f"UPDATE audit_events SET prev_hash = '{prev}', row_hash = '{new_hash}' WHERE id = {row.id}")
        prev = new_hash
    statements.append(f"UPDATE audit_chain_head SET last_hash = '{prev}'")
    tamper(engine, *statements)


def test_an_anchor_is_the_head_and_matches_while_the_log_is_intact(engine: Engine, anchors: Path) -> None:
    rows = log(engine, 3)
    with Session(engine) as session:
        first = take_anchor(session, anchors)
    log(engine, 2)
    with Session(engine) as session:
        second = take_anchor(session, anchors)
        mismatches = check_anchors(session, read_anchors(anchors))

    assert first is not None and (first.seq, first.row_hash) == (rows[-1].seq, rows[-1].row_hash)
    assert second is not None and second.seq == first.seq + 2
    assert [a.seq for a in read_anchors(anchors)] == [first.seq, second.seq]
    assert mismatches == []


def test_an_empty_log_gives_no_anchor(engine: Engine, anchors: Path) -> None:
    with Session(engine) as session:
        assert take_anchor(session, anchors) is None
    assert not anchors.exists()


def test_a_recomputed_chain_passes_the_chain_check_but_not_the_anchor(engine: Engine, anchors: Path) -> None:
    log(engine, 4)
    with Session(engine) as session:
        take_anchor(session, anchors)

    rewrite_history(engine, 2, "91350100M000100Y43")

    assert verify(engine).ok  # the chain alone cannot tell
    with Session(engine) as session:
        mismatches = check_anchors(session, read_anchors(anchors))
    assert len(mismatches) == 1 and "rewritten" in mismatches[0].message


def test_a_cut_history_is_named_by_its_anchor(engine: Engine, anchors: Path) -> None:
    rows = log(engine, 3)
    with Session(engine) as session:
        take_anchor(session, anchors)
    tamper(engine, f"DELETE FROM audit_events WHERE id = {rows[-1].id}")

    with Session(engine) as session:
        mismatches = check_anchors(session, read_anchors(anchors))
    assert len(mismatches) == 1 and f"seq {rows[-1].seq}" in mismatches[0].message


def test_an_unreadable_anchor_line_is_named(anchors: Path) -> None:
    anchors.parent.mkdir(parents=True)
    anchors.write_text('{"seq": 1, "row_hash": "ab", "taken_at": "t"}\nnot json\n', encoding="utf-8")
    with pytest.raises(AnchorError, match="line 2"):
        read_anchors(anchors)


def test_cli_anchors_then_verify_catches_the_rewrite(cli_env: Engine, anchors: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    log(cli_env, 3)
    assert cli.main(["audit", "anchor"]) == 0
    assert "anchored seq 3" in capsys.readouterr().out
    assert cli.main(["audit", "verify"]) == 0
    assert "1 anchors match" in capsys.readouterr().out

    rewrite_history(cli_env, 1, "91350100M000100Y43")

    assert cli.main(["audit", "verify"]) == 1
    assert "audit anchor broken" in capsys.readouterr().out
