"""API keys: hashed at rest, verified with a short cache, refused once revoked or disabled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import ApiKey, utcnow
from api.security import InvalidKeyError, KeyVerifier, demo_key_secret, issue_key, parse_key
from config.settings import Settings
from tests.api.factories import Scenario, add_account, add_bank, add_key, bearer


def test_key_has_the_documented_shape(db: Session, settings: Settings) -> None:
    key = add_key(db, add_account(db, "regulator"), settings)

    prefix, key_id, secret = key.split("_", 2)

    assert prefix == "xk"
    assert parse_key(key).key_id == key_id
    assert len(secret) >= 32


@pytest.mark.parametrize(
    "bad", ["", "xk_", "yk_abc_0123456789abcdef0123", "xk_ab-c_0123456789abcdef0123", "xk_abc_short"]
)
def test_malformed_keys_are_refused(bad: str) -> None:
    with pytest.raises(InvalidKeyError):
        parse_key(bad)


def test_secret_is_stored_nowhere_in_clear(db: Session, settings: Settings) -> None:
    key = add_key(db, add_account(db, "regulator"), settings)
    secret = parse_key(key).secret

    row = db.scalars(select(ApiKey)).one()

    assert all(secret not in str(getattr(row, c.key)) for c in ApiKey.__table__.columns)
    assert row.hash.startswith("$argon2id$")


def test_verify_caches_so_argon2_runs_once(db: Session, settings: Settings) -> None:
    account = add_account(db, "regulator")
    key = add_key(db, account, settings)
    verifier = KeyVerifier(settings)

    assert verifier.verify(db, key).id == account.id
    assert verifier.verify(db, key).id == account.id
    assert verifier.argon2_verifications == 1


def test_cache_disabled_verifies_every_time(db: Session, settings: Settings) -> None:
    key = add_key(db, add_account(db, "regulator"), settings)
    verifier = KeyVerifier(settings.model_copy(update={"key_cache_seconds": 0}))

    verifier.verify(db, key)
    verifier.verify(db, key)

    assert verifier.argon2_verifications == 2


def test_wrong_secret_is_refused_even_when_the_key_id_is_cached(db: Session, settings: Settings) -> None:
    key = add_key(db, add_account(db, "regulator"), settings)
    verifier = KeyVerifier(settings)
    verifier.verify(db, key)

    with pytest.raises(InvalidKeyError):
        verifier.verify(db, key[:-4] + "AAAA")


def test_revoked_key_and_disabled_account_are_refused_despite_the_cache(db: Session, settings: Settings) -> None:
    account = add_account(db, "regulator")
    key = add_key(db, account, settings)
    verifier = KeyVerifier(settings)
    verifier.verify(db, key)

    account.disabled_at = utcnow()
    db.commit()
    with pytest.raises(InvalidKeyError):
        verifier.verify(db, key)

    account.disabled_at = None
    db.scalars(select(ApiKey)).one().revoked_at = utcnow()
    db.commit()
    with pytest.raises(InvalidKeyError):
        verifier.verify(db, key)


def test_a_key_checked_under_another_server_secret_fails(db: Session, settings: Settings) -> None:
    key = add_key(db, add_account(db, "regulator"), settings)
    other = settings.model_copy(update={"secret_key": SecretStr("another-server-secret")})

    with pytest.raises(InvalidKeyError):
        KeyVerifier(other).verify(db, key)


def test_issue_key_accepts_a_given_secret(db: Session, settings: Settings) -> None:
    account = add_account(db, "regulator")
    secret = "s" * 40

    key = issue_key(db, account, settings, secret=secret)

    assert key.endswith("_" + secret)
    assert KeyVerifier(settings).verify(db, key).id == account.id


def test_demo_secret_is_deterministic_and_development_only(settings: Settings) -> None:
    dev = settings.model_copy(update={"env": "development"})

    assert demo_key_secret(dev, "bank_a") == demo_key_secret(dev, "bank_a")
    assert demo_key_secret(dev, "bank_a") != demo_key_secret(dev, "bank_b")
    with pytest.raises(RuntimeError):
        demo_key_secret(settings, "bank_a")


def _problem(response: object) -> dict[str, object]:
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    assert response.headers["www-authenticate"].startswith("Bearer")  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    return body


def test_no_key_is_401(client: TestClient, scenario: Scenario) -> None:
    body = _problem(client.post("/v1/scores", json={"uscc": scenario.uscc}))

    assert body["type"] == "https://xinyi.example/problems/not-authenticated"


def test_wrong_key_is_401(client: TestClient, scenario: Scenario) -> None:
    wrong = scenario.bank_a_key[:-6] + "ZZZZZZ"

    _problem(client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(wrong)))
    _problem(client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer("not-a-key")))


def test_revoked_key_is_401_at_once(client: TestClient, scenario: Scenario, db: Session) -> None:
    ok = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key))
    key_id = parse_key(scenario.bank_a_key).key_id
    db.scalars(select(ApiKey).where(ApiKey.key_id == key_id)).one().revoked_at = utcnow()
    db.commit()

    assert ok.status_code == 200
    _problem(client.post("/v1/scores", json={"uscc": scenario.uscc}, headers=bearer(scenario.bank_a_key)))


def test_x_api_key_header_works_too(client: TestClient, scenario: Scenario) -> None:
    response = client.post("/v1/scores", json={"uscc": scenario.uscc}, headers={"X-API-Key": scenario.bank_a_key})

    assert response.status_code == 200


def test_disabled_bank_account_is_401(client: TestClient, db: Session, settings: Settings) -> None:
    account = add_account(db, "bank", bank=add_bank(db), disabled_at=utcnow())
    key = add_key(db, account, settings)

    _problem(client.get("/v1/enterprise/authorisations", headers=bearer(key)))


def test_cache_stays_small(db: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from api import security

    monkeypatch.setattr(security, "CACHE_MAX_KEYS", 3)
    keys = [add_key(db, add_account(db, "regulator"), settings) for _ in range(5)]
    verifier = KeyVerifier(settings)

    for key in keys:
        verifier.verify(db, key)

    assert len(verifier._cache) <= 3
    assert verifier.verify(db, keys[-1]) is not None


def test_an_expired_key_is_refused_despite_the_cache(db: Session, settings: Settings) -> None:
    account = add_account(db, "regulator")
    key = issue_key(db, account, settings, expires_at=utcnow() + timedelta(minutes=5))
    db.commit()
    verifier = KeyVerifier(settings)
    assert verifier.verify(db, key).id == account.id

    db.scalars(select(ApiKey)).one().expires_at = utcnow() - timedelta(seconds=1)
    db.commit()

    with pytest.raises(InvalidKeyError):
        verifier.verify(db, key)
