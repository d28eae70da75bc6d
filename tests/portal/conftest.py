"""Portal fixtures: the API's app and database fixtures, a browser-like client on https, and logged-in visitors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session

from api.db.models import Account
from api.portal import passwords
from api.portal.passwords import set_password
from config.settings import Settings
from tests.api.conftest import app, cheap_argon2, db, engine, scorer, settings  # noqa: F401 - shared fixtures
from tests.api.factories import Scenario, add_account, build_scenario

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, with test-sized cost."""
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(passwords, "_DUMMY_HASH", [])


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:  # noqa: F811 - the app fixture imported above
    """A client on https (the session cookie is Secure outside development) that does not follow redirects."""
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        yield client


def csrf_of(page: Response) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(page.text)
    assert found is not None, "no form with a CSRF token on the page"
    return found.group(1)


def log_in(client: TestClient, account_id: int | str, password: str = PASSWORD) -> Response:
    """Fill in the login form as a browser would (fetch it for its token, then post it)."""
    form = client.get("/portal/login")
    return client.post("/portal/login", data={"account_id": str(account_id), "password": password,
                                              "csrf_token": csrf_of(form)})


def with_password(db: Session, settings: Settings, account: Account, password: str = PASSWORD) -> Account:  # noqa: F811
    """Give an account a portal password."""
    set_password(db, account, settings, password)
    db.commit()
    return account


@dataclass
class Cast:
    """The scenario of the API tests plus portal logins: its enterprise, another enterprise and a regulator."""

    scenario: Scenario
    enterprise: Account
    other_enterprise: Account
    regulator: Account


@pytest.fixture
def cast(db: Session, settings: Settings) -> Cast:  # noqa: F811
    """The usual scenario with passwords for its enterprise, a second enterprise and a regulator."""
    scenario = build_scenario(db, settings)
    other = build_scenario(db, settings)
    regulator = add_account(db, "regulator")
    return Cast(scenario, with_password(db, settings, scenario.enterprise_account),
                with_password(db, settings, other.enterprise_account), with_password(db, settings, regulator))
