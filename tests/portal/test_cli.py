"""``xinyi accounts set-password`` (password from stdin, never an argument) and the demo's portal passwords."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api import cli
from api.db.models import Account
from api.pipeline import DemoOutcome
from api.portal.passwords import demo_password, password_matches, set_demo_passwords
from api.repository import DemoAccount, DemoAccounts
from config.settings import Settings, get_settings
from tests.api.conftest import TEST_SECRET
from tests.api.factories import add_account, add_bank, add_enterprise


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, engine: Engine) -> Iterator[Settings]:
    """The CLI's settings read from the environment, on the test database."""
    monkeypatch.setenv("XINYI_ENV", "test")
    monkeypatch.setenv("XINYI_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("XINYI_DATABASE_URL", settings.resolved_database_url)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def _run(monkeypatch: pytest.MonkeyPatch, stdin: str, *args: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return cli.main(["accounts", "set-password", *args])


def test_set_password_reads_stdin_and_stores_a_hash(
    monkeypatch: pytest.MonkeyPatch, cli_env: Settings, db: Session
) -> None:
    regulator = add_account(db, "regulator")
    assert _run(monkeypatch, "a long enough secret\n", "--account-id", str(regulator.id)) == 0
    db.expire_all()
    stored = db.get(Account, regulator.id)
    assert stored is not None and stored.password_hash is not None
    assert password_matches(cli_env, stored, "a long enough secret")


def test_set_password_refuses_banks_short_passwords_and_arguments(
    monkeypatch: pytest.MonkeyPatch, cli_env: Settings, db: Session
) -> None:
    bank = add_account(db, "bank", bank=add_bank(db))
    assert _run(monkeypatch, "a long enough secret\n", "--account-id", str(bank.id)) == 1
    enterprise = add_account(db, "enterprise", uscc=add_enterprise(db).uscc)
    assert _run(monkeypatch, "short\n", "--account-id", str(enterprise.id)) == 1
    assert _run(monkeypatch, "a long enough secret\n", "--account-id", "999999") == 1
    with pytest.raises(SystemExit):
        _run(monkeypatch, "", "--account-id", str(enterprise.id), "--password", "a long enough secret")
    db.expire_all()
    assert db.get(Account, bank.id).password_hash is None  # type: ignore[union-attr]
    assert db.get(Account, enterprise.id).password_hash is None  # type: ignore[union-attr]


def test_demo_passwords_let_the_demo_enterprises_and_regulator_in(db: Session, settings: Settings) -> None:
    dev = settings.model_copy(update={"env": "development"})
    enterprise = add_account(db, "enterprise", uscc=add_enterprise(db).uscc)
    regulator = add_account(db, "regulator")
    bank = add_account(db, "bank", bank=add_bank(db))
    labels = [(enterprise.id, "enterprise_1"), (regulator.id, "regulator"), (bank.id, "bank_a")]
    assert set_demo_passwords(db, dev, labels) == 2
    db.expire_all()
    assert password_matches(dev, db.get(Account, enterprise.id), demo_password(dev, "enterprise_1"))
    assert password_matches(dev, db.get(Account, regulator.id), demo_password(dev, "regulator"))
    assert db.get(Account, bank.id).password_hash is None  # type: ignore[union-attr]


def test_the_demo_ends_by_printing_the_portal_and_its_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    dev = Settings(env="development")
    accounts = DemoAccounts((
        DemoAccount("regulator", "regulator", "xk_a_" + "r" * 20, 1),
        DemoAccount("bank_a", "bank", "xk_b_" + "b" * 20, 2, bank_code="DEMO_BANK_A"),
        DemoAccount("enterprise_1", "enterprise", "xk_c_" + "e" * 20, 3, uscc="914101020020ARJU91"),
    ), authorisation_id=1)
    outcome = DemoOutcome(region=None, model_version="1", metrics={}, accounts=accounts)  # type: ignore[arg-type]
    recorded = Console(record=True, width=200)
    monkeypatch.setattr(cli, "console", recorded)
    cli._print_ending(dev, outcome)
    text = recorded.export_text()
    assert f"http://{dev.host}:{dev.port}/portal" in text
    assert demo_password(dev, "enterprise_1") in text and demo_password(dev, "regulator") in text
    assert demo_password(dev, "bank_a") not in text  # banks have no portal login
