"""账户管理 without HTTP: operators connect banks, open accounts, issue, rotate and revoke keys, disable accounts.

The operator router (``api.routers.operator``) and the bootstrap command (``xinyi accounts create-operator``)
call these, so the rules live in one place: a bank account names a connected bank, an enterprise account a
registered USCC, other roles neither; a key is shown once and stored as a hash; disabling takes effect on the
very next request (the key verifier reads the account on every request, whatever it has cached).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.db.models import Account, ApiKey, Bank, Enterprise, utcnow
from api.errors import Conflict, FieldError, NotFound, ValidationProblem
from api.security import KeyVerifier, issue_key
from config.settings import Settings


def _invalid(field: str, rule: str, message: str) -> ValidationProblem:
    return ValidationProblem(message[0].upper() + message[1:] + ".", [FieldError(field, rule, message)])


def create_bank(session: Session, *, code: str, name: str) -> Bank:
    """Connect a bank (金融机构) under a new code; 409 if the code is taken."""
    if session.scalars(select(Bank).where(Bank.code == code)).first() is not None:
        raise Conflict(f"A bank with code {code} is already connected.")
    bank = Bank(code=code, name=name)
    session.add(bank)
    try:
        session.commit()
    except IntegrityError:  # the same code created at the same moment
        session.rollback()
        raise Conflict(f"A bank with code {code} is already connected.") from None
    return bank


def _bank_link(session: Session, role: str, bank_code: str | None) -> int | None:
    if role != "bank":
        if bank_code is not None:
            raise _invalid("bank_code", "account.bank_code_not_allowed", f"only bank accounts name a bank, not {role}")
        return None
    if bank_code is None:
        raise _invalid("bank_code", "account.bank_code_required", "a bank account names its bank")
    bank = session.scalars(select(Bank).where(Bank.code == bank_code)).first()
    if bank is None:
        raise _invalid("bank_code", "bank_code.unknown", "no bank with this code is connected")
    return bank.id


def _enterprise_link(session: Session, role: str, uscc: str | None) -> str | None:
    if role != "enterprise":
        if uscc is not None:
            raise _invalid("uscc", "account.uscc_not_allowed", f"only enterprise accounts name a USCC, not {role}")
        return None
    if uscc is None:
        raise _invalid("uscc", "account.uscc_required", "an enterprise account names its USCC")
    if session.get(Enterprise, uscc) is None:
        raise _invalid("uscc", "uscc.unknown", "no enterprise with this USCC is registered on the platform")
    return uscc


def create_account(
    session: Session, *, role: str, display_name: str, bank_code: str | None = None, uscc: str | None = None
) -> Account:
    """Open an account of ``role``; 422 naming the field when its link to a bank or enterprise is wrong."""
    account = Account(
        role=role,
        display_name=display_name,
        bank_id=_bank_link(session, role, bank_code),
        uscc=_enterprise_link(session, role, uscc),
        created_at=utcnow(),
    )
    session.add(account)
    session.commit()
    return account


def account_by_id(session: Session, account_id: int) -> Account:
    """The account with this id; 404 otherwise."""
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("No account with this id.")
    return account


def key_by_id(session: Session, key_id: str) -> ApiKey:
    """The key with this public id; 404 otherwise."""
    key = session.scalars(select(ApiKey).where(ApiKey.key_id == key_id)).first()
    if key is None:
        raise NotFound("No API key with this id.")
    return key


def issue_account_key(
    session: Session, settings: Settings, account: Account, expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """A new key for ``account`` (its other keys keep working: rotation without downtime) and its plaintext,
    shown once. 409 for a disabled account, 422 for an expiry not in the future."""
    if account.disabled_at is not None:
        raise Conflict("The account is disabled; enable it before issuing a key.")
    if expires_at is not None and expires_at <= utcnow():
        raise _invalid("expires_at", "key.expires_in_past", "the expiry must be in the future")
    plaintext = issue_key(session, account, settings, expires_at=expires_at)
    session.commit()
    key = session.scalars(select(ApiKey).where(ApiKey.account_id == account.id).order_by(ApiKey.id.desc())).first()
    assert key is not None  # just stored
    return key, plaintext


def account_keys(session: Session, account: Account) -> list[ApiKey]:
    """Every key of the account, newest first, live or not (hashes stay in the database)."""
    return list(session.scalars(select(ApiKey).where(ApiKey.account_id == account.id).order_by(ApiKey.id.desc())))


def revoke_key(session: Session, verifier: KeyVerifier, key: ApiKey) -> ApiKey:
    """Revoke the key at once (idempotent): its next presentation is refused."""
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.commit()
    verifier.forget(key.key_id)
    return key


def set_disabled(session: Session, verifier: KeyVerifier, account: Account, *, disabled: bool, by: Account) -> Account:
    """Disable or enable the account; disabled, none of its keys works from the next request on. An operator
    cannot disable its own account (409), so the platform never locks its last operator out by accident."""
    if disabled and account.id == by.id:
        raise Conflict("An operator cannot disable its own account.")
    if disabled and account.disabled_at is None:
        account.disabled_at = utcnow()
    elif not disabled:
        account.disabled_at = None
    session.commit()
    for key in account_keys(session, account):
        verifier.forget(key.key_id)
    return account


def bootstrap_operator(session: Session, settings: Settings, name: str) -> tuple[Account, str]:
    """The first (or another) operator account with a key, for ``xinyi accounts create-operator``."""
    account = create_account(session, role="operator", display_name=name)
    _key, plaintext = issue_account_key(session, settings, account)
    return account, plaintext
