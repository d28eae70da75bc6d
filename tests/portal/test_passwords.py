"""Portal passwords: argon2id of the peppered password, enterprise and regulator accounts only."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session

from api.db.models import utcnow
from api.portal.passwords import PasswordRefused, demo_password, password_matches, set_password
from config.settings import Settings
from tests.api.factories import add_account, add_bank, add_enterprise


def test_only_a_peppered_argon2id_hash_is_stored(db: Session, settings: Settings) -> None:
    account = add_account(db, "regulator")
    set_password(db, account, settings, "a long enough secret")
    assert account.password_hash is not None and account.password_hash.startswith("$argon2id$")
    assert "a long enough secret" not in account.password_hash
    assert password_matches(settings, account, "a long enough secret")
    assert not password_matches(settings, account, "a long enough secreT")
    other_pepper = settings.model_copy(update={"secret_key": SecretStr("another-server-secret")})
    assert not password_matches(other_pepper, account, "a long enough secret")


def test_banks_and_short_passwords_are_refused(db: Session, settings: Settings) -> None:
    bank = add_account(db, "bank", bank=add_bank(db))
    with pytest.raises(PasswordRefused, match="bank accounts"):
        set_password(db, bank, settings, "a long enough secret")
    enterprise = add_account(db, "enterprise", uscc=add_enterprise(db).uscc)
    with pytest.raises(PasswordRefused, match="10 to 200"):
        set_password(db, enterprise, settings, "short")
    assert bank.password_hash is None and enterprise.password_hash is None


def test_a_bank_with_a_hash_written_anyway_still_cannot_match(db: Session, settings: Settings) -> None:
    regulator = add_account(db, "regulator")
    set_password(db, regulator, settings, "a long enough secret")
    bank = add_account(db, "bank", bank=add_bank(db))
    bank.password_hash = regulator.password_hash
    assert not password_matches(settings, bank, "a long enough secret")


def test_disabled_accounts_and_unknown_ones_do_not_match(db: Session, settings: Settings) -> None:
    regulator = add_account(db, "regulator")
    set_password(db, regulator, settings, "a long enough secret")
    regulator.disabled_at = utcnow()
    assert not password_matches(settings, regulator, "a long enough secret")
    assert not password_matches(settings, None, "a long enough secret")


def test_demo_passwords_exist_only_in_development(settings: Settings) -> None:
    dev = Settings(env="development")
    assert demo_password(dev, "enterprise_1") == demo_password(dev, "enterprise_1")
    assert demo_password(dev, "enterprise_1") != demo_password(dev, "regulator")
    with pytest.raises(RuntimeError, match="development"):
        demo_password(settings, "enterprise_1")
