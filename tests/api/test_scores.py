"""POST /v1/scores and GET /v1/scores/{id}: authorised banks only, the body as promised."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.app import create_app
from api.db.models import ScoreResponse, utcnow
from config.settings import Settings
from features.uscc import check_character
from scoring.decision import LimitPolicy
from scoring.policy import RuleSetError
from scoring.types import PolicyRecord
from tests.api.factories import (
    FakeScorer,
    Scenario,
    add_account,
    add_authorisation,
    add_enterprise,
    add_key,
    add_profile,
    bearer,
    policy_facts,
)


def score(client: TestClient, key: str, uscc: str) -> object:
    return client.post("/v1/scores", json={"uscc": uscc}, headers=bearer(key))


def test_authorised_bank_gets_a_score_with_every_field(client: TestClient, scenario: Scenario, db: Session) -> None:
    response = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key))

    assert response.status_code == 200
    body = response.json()
    expected = FakeScorer().score(scenario.uscc, {"tax_paid_12m": 120_000.0, "si_arrears_months": 2.0}, date.min)
    assert body["uscc"] == scenario.uscc
    assert body["probability_of_default"] == pytest.approx(expected.probability_of_default)
    assert body["score"] == expected.score
    assert body["grade"] == expected.grade
    assert body["model"] == {"name": "fake_pd", "version": "7"}
    assert body["profile_as_of"] == scenario.profile_as_of.isoformat()
    assert set(body["reasons"]) == {"lowering", "raising"}
    lowering = body["reasons"]["lowering"][0]
    assert set(lowering) == {"feature", "points", "value", "text_zh", "text_en"}
    assert lowering["feature"] == "si_arrears_months"
    assert lowering["value"] == 2.0
    assert body["reasons"]["raising"][0]["feature"] == "tax_paid_12m"
    assert body["requested_at"]
    assert body["decision"] == "approve"  # fake grade A, no policy record in force
    assert body["rule_set_version"] == "policy-v1"
    assert body["policy_hits"] == [] and body["insufficient_data"] == []
    limit = LimitPolicy().limit(6_000_000.0, 180_000.0, expected.probability_of_default or 0.0, "approve")
    assert body["pre_credit_limit"]["amount"] == limit.amount > 0
    assert body["pre_credit_limit"]["currency"] == "CNY"
    stored = db.scalars(select(ScoreResponse)).one()
    assert str(stored.id) == body["id"]
    assert stored.bank_id == scenario.bank_a.id
    assert stored.score == body["score"]


def test_the_latest_profile_is_scored(client: TestClient, scenario: Scenario, db: Session, scorer: FakeScorer) -> None:
    later = scenario.profile_as_of + timedelta(days=30)
    add_profile(db, scenario.uscc, later, {"tax_paid_12m": 1.0, "si_arrears_months": 0.0, "age_months": 50.0})

    response = score(client, scenario.bank_a_key, scenario.uscc)

    assert response.json()["profile_as_of"] == later.isoformat()  # type: ignore[attr-defined]
    assert scorer.calls == [(scenario.uscc, later)]


def test_the_same_bank_reads_its_score_back_and_others_get_404(client: TestClient, scenario: Scenario) -> None:
    created = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key)).json()

    mine = client.get(f"/v1/scores/{created['id']}", headers=bearer(scenario.bank_a_key))
    theirs = client.get(f"/v1/scores/{created['id']}", headers=bearer(scenario.bank_b_key))

    assert mine.status_code == 200
    assert mine.json() == created
    assert theirs.status_code == 404
    assert theirs.headers["content-type"] == "application/problem+json"


def test_bank_without_authorisation_gets_403(client: TestClient, scenario: Scenario) -> None:
    response = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_b_key))

    assert response.status_code == 403
    assert response.json()["type"] == "https://xinyi.example/problems/not-authorised"


def test_revoked_authorisation_gets_403_at_once(client: TestClient, scenario: Scenario) -> None:
    first = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key))
    revoked = client.delete(
        f"/v1/enterprise/authorisations/{scenario.grant.id}", headers=bearer(scenario.enterprise_key)
    )
    second = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key))

    assert (first.status_code, revoked.status_code, second.status_code) == (200, 200, 403)


def test_expired_authorisation_gets_403(client: TestClient, db: Session, settings: Settings) -> None:
    enterprise = add_enterprise(db)
    from tests.api.factories import add_bank

    bank = add_bank(db)
    key = add_key(db, add_account(db, "bank", bank=bank), settings)
    add_authorisation(db, enterprise.uscc, bank, expires_at=utcnow() - timedelta(seconds=1))
    add_profile(db, enterprise.uscc, date(2026, 3, 31))

    response = client.post("/v1/scores", json={"uscc": enterprise.uscc}, headers=bearer(key))

    assert response.status_code == 403


@pytest.mark.parametrize(("purpose", "scopes"), [("post_loan", ("score",)), ("pre_credit", ("profile",))])
def test_grant_for_another_purpose_or_scope_gets_403(
    client: TestClient, scenario: Scenario, db: Session, purpose: str, scopes: tuple[str, ...]
) -> None:
    add_authorisation(db, scenario.uscc, scenario.bank_b, purpose=purpose, scopes=scopes)

    response = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_b_key))

    assert response.status_code == 403


def test_enterprise_key_may_not_ask_for_scores(client: TestClient, scenario: Scenario) -> None:
    response = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.enterprise_key))

    assert response.status_code == 403
    assert response.json()["type"].endswith("/forbidden")


def test_invalid_uscc_is_422_naming_field_and_rule(client: TestClient, scenario: Scenario) -> None:
    good = scenario.uscc
    wrong_check = good[:17] + next(c for c in "0123456789" if c != check_character(good[:17]))

    response = client.post("/v1/scores", json={"uscc": wrong_check}, headers=bearer(scenario.bank_a_key))

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert errors[0]["field"] == "uscc"
    assert errors[0]["rule"] == "uscc.check_character"


def test_unknown_enterprise_is_404(client: TestClient, scenario: Scenario) -> None:
    from tests.api.factories import new_uscc

    response = client.post("/v1/scores", json={"uscc": new_uscc()}, headers=bearer(scenario.bank_a_key))

    assert response.status_code == 404
    assert response.json()["type"].endswith("/not-found")


def test_enterprise_without_profile_is_404_no_profile(client: TestClient, db: Session, scenario: Scenario) -> None:
    other = add_enterprise(db)
    add_authorisation(db, other.uscc, scenario.bank_a)

    response = client.post("/v1/scores", json={"uscc": other.uscc}, headers=bearer(scenario.bank_a_key))

    assert response.status_code == 404
    assert response.json()["type"].endswith("/no-profile")


def test_no_model_loaded_is_503(settings: Settings, engine: object, scenario: Scenario) -> None:
    with TestClient(create_app(settings, score_provider=None)) as client:
        response = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key))

    assert response.status_code == 503
    assert response.json()["type"].endswith("/service-unavailable")


# --- decisions, policy rules and unscorable enterprises --------------------------------------------------

BLACK_LISTED = PolicyRecord("list_entries", "black", date(2025, 11, 3), "拒不履行法定义务", "BL-2025-0042")


def test_a_black_listed_enterprise_is_declined_citing_the_record(
    client: TestClient, scenario: Scenario, db: Session, scorer: FakeScorer
) -> None:
    later = scenario.profile_as_of + timedelta(days=1)
    add_profile(db, scenario.uscc, later, facts=policy_facts(BLACK_LISTED))

    response = score(client, scenario.bank_a_key, scenario.uscc)

    body = response.json()  # type: ignore[attr-defined]
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert body["grade"] == "A"  # the model likes it …
    assert body["decision"] == "decline"  # … the policy does not
    assert body["pre_credit_limit"]["amount"] == 0 and body["pre_credit_limit"]["binding"] == "declined"
    (hit,) = body["policy_hits"]
    assert (hit["rule_id"], hit["rule_version"], hit["action"]) == ("serious_dishonesty_list", "policy-v1", "decline")
    assert hit["record"] == {"source": "list_entries", "kind": "black", "since": "2025-11-03",
                             "reason": "拒不履行法定义务", "record_key": "BL-2025-0042"}
    assert "BL-2025-0042" in hit["text_zh"] and "policy decline" in hit["text_en"]
    read_back = client.get(f"/v1/scores/{body['id']}", headers=bearer(scenario.bank_a_key))
    assert read_back.json() == body


def test_an_abnormal_list_entry_is_referred(client: TestClient, scenario: Scenario, db: Session) -> None:
    abnormal = PolicyRecord("list_entries", "abnormal", date(2026, 1, 4), None, "AB-77")
    add_profile(db, scenario.uscc, scenario.profile_as_of + timedelta(days=1), facts=policy_facts(abnormal))

    body = score(client, scenario.bank_a_key, scenario.uscc).json()  # type: ignore[attr-defined]

    assert body["decision"] == "refer"
    assert [h["rule_id"] for h in body["policy_hits"]] == ["abnormal_operations_list"]


def test_the_requested_amount_caps_the_limit(client: TestClient, scenario: Scenario) -> None:
    response = client.post("/v1/scores", json={"uscc": scenario.uscc, "requested_amount": 50_000},
                           headers=bearer(scenario.bank_a_key))

    body = response.json()
    assert (body["pre_credit_limit"]["amount"], body["pre_credit_limit"]["binding"]) == (50_000, "requested")
    assert body["requested_amount"] == 50_000


def test_a_non_positive_requested_amount_is_422_naming_the_field(client: TestClient, scenario: Scenario) -> None:
    response = client.post("/v1/scores", json={"uscc": scenario.uscc, "requested_amount": 0},
                           headers=bearer(scenario.bank_a_key))

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "requested_amount"


def test_a_young_enterprise_gets_insufficient_data_not_a_guess(
    client: TestClient, scenario: Scenario, db: Session, scorer: FakeScorer
) -> None:
    young = {"tax_paid_12m": 5_000.0, "si_arrears_months": 0.0, "age_months": 3.0}
    add_profile(db, scenario.uscc, scenario.profile_as_of + timedelta(days=1), young)

    response = score(client, scenario.bank_a_key, scenario.uscc)

    body = response.json()  # type: ignore[attr-defined]
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert (body["probability_of_default"], body["score"], body["grade"]) == (None, None, None)
    assert body["reasons"] == {"lowering": [], "raising": []}
    assert [m["code"] for m in body["insufficient_data"]] == ["registered_too_recently"]
    assert body["decision"] == "refer" and body["pre_credit_limit"] is None
    assert body["rule_set_version"] == "policy-v1"
    assert scorer.calls == []  # the model was not asked to guess
    stored = db.scalars(select(ScoreResponse)).one()
    assert stored.score is None and stored.insufficient_data == body["insufficient_data"]


def test_a_profile_without_policy_facts_is_not_assumed_clean(
    client: TestClient, scenario: Scenario, db: Session
) -> None:
    add_profile(db, scenario.uscc, scenario.profile_as_of + timedelta(days=1), facts=None)

    body = score(client, scenario.bank_a_key, scenario.uscc).json()  # type: ignore[attr-defined]

    assert [m["code"] for m in body["insufficient_data"]] == ["policy_facts"]
    assert body["decision"] == "refer"


def test_a_bad_rules_file_stops_the_app_from_starting(settings: Settings, engine: object, tmp_path) -> None:
    bad = tmp_path / "policy_bad.json"
    bad.write_text('{"version": "v9", "effective_from": "2026-01-01", "rules": [{"id": "x", "action": "decline", '
                   '"source": "judicial", "kinds": ["嫌疑人"], "basis": "b", "text_zh": "z", "text_en": "e"}]}',
                   encoding="utf-8")
    with pytest.raises(RuleSetError, match="rule 'x', field 'kinds'"):
        create_app(settings.model_copy(update={"policy_rules_path": bad}), score_provider=FakeScorer())


def test_more_concurrent_scores_than_pooled_connections_all_answer_each_audited_once(
    client: TestClient, scenario: Scenario, db: Session
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from api.db.models import AuditEvent

    pooled = client.app.state.engine.pool.size()  # type: ignore[attr-defined]
    with ThreadPoolExecutor(max_workers=4 * pooled) as pool:
        answers = list(pool.map(lambda _: client.post("/v1/scores", json={"uscc": scenario.uscc},
                                                      headers=bearer(scenario.bank_a_key)), range(4 * pooled)))
    statuses = [answer.status_code for answer in answers]

    assert statuses == [200] * (4 * pooled)
    db.expire_all()
    assert len(db.scalars(select(ScoreResponse)).all()) == 4 * pooled
    rows = db.scalars(select(AuditEvent).where(AuditEvent.action == "score.create")).all()
    assert len(rows) == 4 * pooled and len({r.request_id for r in rows}) == 4 * pooled
