"""Score retention (api/retention.py): old scores are deleted in batches, reviewed ones kept, the audit chain
untouched, and a read of a deleted score answers 410 with a stable type. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from api import cli
from api.audit_chain import verify_chain
from api.db import make_sessionmaker
from api.db.ids import uuid7
from api.db.models import AuditEvent, RetentionMark, ScoreResponse, utcnow
from api.retention import PRUNE_ACTION, SCORES, prune_scores
from config.settings import Settings, get_settings
from tests.api.factories import Scenario, bearer

PAST_RETENTION = "https://xinyi.example/problems/score-past-retention"


def _score(client: TestClient, scenario: Scenario) -> str:
    response = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key))
    assert response.status_code == 200
    score_id: str = response.json()["id"]
    return score_id


def _backdate(engine: Engine, score_ids: list[str], days: int) -> None:
    with engine.begin() as connection:
        connection.execute(update(ScoreResponse).where(ScoreResponse.id.in_([uuid.UUID(i) for i in score_ids]))
                           .values(requested_at=utcnow() - timedelta(days=days)))


def _stored_ids(db: Session) -> set[str]:
    db.expire_all()
    return {str(i) for i in db.scalars(select(ScoreResponse.id))}


def test_old_scores_go_in_batches_newer_and_reviewed_ones_stay(
    client: TestClient, scenario: Scenario, engine: Engine, db: Session, settings: Settings
) -> None:
    old = [_score(client, scenario) for _ in range(7)]
    new = [_score(client, scenario) for _ in range(2)]
    reviewed = old[0]
    review = client.post("/v1/enterprise/reviews", json={"score_request_id": reviewed, "reason": "请人工复核"},
                         headers=bearer(scenario.enterprise_key))
    assert review.status_code == 201
    _backdate(engine, old, settings.score_retention_days + 1)
    pauses: list[float] = []

    result = prune_scores(make_sessionmaker(engine), settings, batch_rows=2, pause_seconds=0.01,
                          sleep=pauses.append)

    assert (result.deleted, result.kept_for_review) == (6, 1)
    assert result.batches == 4 and pauses == [0.01] * 3  # 2 + 2 + 2, then a batch that found nothing
    assert _stored_ids(db) == {reviewed, *new}


def test_a_pruned_score_reads_as_410_for_every_bank_and_unknown_ids_stay_404(
    client: TestClient, scenario: Scenario, engine: Engine, settings: Settings
) -> None:
    score_id = _score(client, scenario)
    later = utcnow() + timedelta(days=settings.score_retention_days + 1)
    assert prune_scores(make_sessionmaker(engine), settings, now=later).deleted == 1

    for key in (scenario.bank_a_key, scenario.bank_b_key):  # the id alone decides: no bank learns whose it was
        gone = client.get(f"/v1/scores/{score_id}", headers=bearer(key))
        assert gone.status_code == 410
        assert gone.headers["content-type"] == "application/problem+json"
        assert gone.json()["type"] == PAST_RETENTION
        assert f"{settings.score_retention_days} days" in gone.json()["detail"]
    after_cutoff = uuid7(later - timedelta(days=settings.score_retention_days - 1))
    for unknown in (uuid.uuid4(), after_cutoff):  # no time in the id, or a time after the prune's cutoff
        answer = client.get(f"/v1/scores/{unknown}", headers=bearer(scenario.bank_a_key))
        assert answer.status_code == 404
        assert answer.json()["type"].endswith("/not-found")


def test_the_mark_never_moves_back(engine: Engine, settings: Settings, db: Session) -> None:
    factory = make_sessionmaker(engine)
    first = prune_scores(factory, settings)
    prune_scores(factory, settings.model_copy(update={"score_retention_days": settings.score_retention_days * 2}))

    db.expire_all()
    mark = db.get(RetentionMark, SCORES)
    assert mark is not None and mark.pruned_before == first.cutoff


def test_pruning_leaves_every_audit_row_and_adds_one_saying_what_it_did(
    client: TestClient, scenario: Scenario, engine: Engine, db: Session, settings: Settings
) -> None:
    scores = [_score(client, scenario) for _ in range(3)]
    client.get(f"/v1/scores/{scores[0]}", headers=bearer(scenario.bank_a_key))
    before = [(e.seq, e.row_hash) for e in db.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    _backdate(engine, scores, settings.score_retention_days + 1)

    prune_scores(make_sessionmaker(engine), settings)

    db.expire_all()
    after = list(db.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
    assert [(e.seq, e.row_hash) for e in after[:-1]] == before
    assert after[-1].action == PRUNE_ACTION and after[-1].uscc is None
    assert after[-1].detail is not None and after[-1].detail.startswith("deleted 3 scores")
    assert verify_chain(db).ok


def test_bad_batch_settings_are_refused_naming_them(engine: Engine, settings: Settings) -> None:
    factory = make_sessionmaker(engine)
    with pytest.raises(ValueError, match="batch_rows"):
        prune_scores(factory, settings, batch_rows=0)
    with pytest.raises(ValueError, match="pause_seconds"):
        prune_scores(factory, settings, pause_seconds=-1)


def test_the_command_prunes_with_the_configured_period(
    client: TestClient, scenario: Scenario, engine: Engine, db: Session, settings: Settings,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    old, kept = _score(client, scenario), _score(client, scenario)
    _backdate(engine, [old], 40)
    monkeypatch.setenv("XINYI_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("XINYI_SECRET_KEY", settings.secret_key.get_secret_value())
    monkeypatch.setenv("XINYI_ENV", "test")
    monkeypatch.setenv("XINYI_SCORE_RETENTION_DAYS", "30")
    get_settings.cache_clear()
    try:
        assert cli.main(["scores", "prune", "--batch-rows", "1"]) == 0
    finally:
        get_settings.cache_clear()

    assert _stored_ids(db) == {kept}
    assert "deleted 1 score" in capsys.readouterr().out
