"""Portal passwords: only argon2id(HMAC-SHA256(secret_key, password)) is stored, as API keys are.

Only enterprise and regulator accounts log in to the portal; banks use the API with their keys.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from api.db.models import Account
from api.security import peppered_digest
from config.settings import Settings

PORTAL_ROLES = ("enterprise", "regulator")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
_hasher = PasswordHasher()  # argon2id with argon2-cffi's RFC 9106 defaults
_DUMMY_HASH: list[str] = []


class PasswordRefused(ValueError):  # noqa: N818 - reads as what happened
    """A password that breaks a rule (length), or an account that may not have a portal password."""


def check_password_rules(password: str) -> None:
    """Raise PasswordRefused unless the password is 10 to 200 characters long."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise PasswordRefused(
            f"a portal password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )


def hash_password(settings: Settings, password: str) -> str:
    """The argon2id hash of the peppered password, as stored in ``accounts.password_hash``."""
    return _hasher.hash(peppered_digest(settings, password))


def set_password(session: Session, account: Account, settings: Settings, password: str) -> None:
    """Store a new portal password for an enterprise or regulator account (not committed)."""
    if account.role not in PORTAL_ROLES:
        raise PasswordRefused(f"{account.role} accounts do not log in to the portal")
    check_password_rules(password)
    account.password_hash = hash_password(settings, password)
    session.flush()


def password_matches(settings: Settings, account: Account | None, password: str) -> bool:
    """True when ``account`` may log in to the portal with ``password``.

    An unknown account, one without a password, a disabled one or a bank pays the same argon2 cost as a real
    check, so timing does not tell which accounts exist.
    """
    digest = peppered_digest(settings, password)
    usable = (
        account is not None
        and account.password_hash is not None
        and account.disabled_at is None
        and account.role in PORTAL_ROLES
    )
    if not usable:
        if not _DUMMY_HASH:
            _DUMMY_HASH.append(_hasher.hash("not-a-password"))
        with contextlib.suppress(VerificationError, InvalidHashError):
            _hasher.verify(_DUMMY_HASH[0], digest)
        return False
    assert account is not None and account.password_hash is not None
    try:
        return _hasher.verify(account.password_hash, digest)
    except (VerificationError, InvalidHashError):
        return False


def demo_password(settings: Settings, label: str) -> str:
    """A deterministic portal password for a demo account, derived from the development secret (never stored)."""
    if settings.env != "development":
        raise RuntimeError("demo passwords exist only when XINYI_ENV=development")
    return "demo-" + peppered_digest(settings, f"demo-portal-password:{label}")[:16]


def set_demo_passwords(session: Session, settings: Settings, accounts: Sequence[tuple[int, str]]) -> int:
    """Give each demo (account id, label) of an enterprise or regulator its derived demo password (development only,
    committed); returns how many were set. The passwords are printed by ``xinyi demo``, never stored in clear."""
    count = 0
    for account_id, label in accounts:
        account = session.get(Account, account_id)
        if account is not None and account.role in PORTAL_ROLES:
            set_password(session, account, settings, demo_password(settings, label))
            count += 1
    session.commit()
    return count
