"""API fixtures: a migrated database, settings, the app with a fake scorer, a client and a scenario."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api import security
from api.app import create_app
from api.db import make_engine, migrate
from config.settings import Settings
from tests.api.factories import FakeScorer, Scenario, build_scenario

TEST_SECRET = "test-secret-key-not-the-default"


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, with test-sized cost, so a hundred keys do not take a minute."""
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Test settings pointing at the test database."""
    return Settings(env="test", secret_key=SecretStr(TEST_SECRET), database_url=database_url, key_cache_seconds=60)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a database migrated to head."""
    migrate(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session for factories and assertions."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def scorer() -> FakeScorer:
    """The deterministic fake scorer."""
    return FakeScorer()


@pytest.fixture
def app(settings: Settings, engine: Engine, scorer: FakeScorer) -> FastAPI:
    """The app under test, on the migrated database."""
    return create_app(settings, score_provider=scorer)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A client that runs the app's lifespan."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def scenario(db: Session, settings: Settings) -> Scenario:
    """An enterprise that authorised bank A, with keys for bank A, bank B and the enterprise."""
    return build_scenario(db, settings)
