"""API keys ``xk_<key_id>_<secret>``: only argon2id(HMAC-SHA256(secret_key, secret)) is stored.

A verified key is remembered in memory (key_id → digest) for ``key_cache_seconds`` so argon2 is not paid on
every request; the key and account rows are still read each time, so revoking, expiring or disabling is
immediate. Repeated failures lock the key id and the client address out for a while (``api.throttle``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from api.db.direct import DirectStatement
from api.db.models import Account, ApiKey, utcnow
from api.throttle import FailedKeyThrottle
from config.settings import Settings

logger = logging.getLogger(__name__)

KEY_PREFIX = "xk"
CACHE_MAX_KEYS = 10_000
_hasher = PasswordHasher()  # argon2id with argon2-cffi's RFC 9106 defaults


class InvalidKeyError(Exception):
    """The presented key is malformed, unknown, revoked, belongs to a disabled account, or does not match."""


@dataclass(frozen=True)
class ParsedKey:
    """The two parts of a presented key; ``secret`` must never be logged or stored."""

    key_id: str
    secret: str

    def __repr__(self) -> str:
        return f"ParsedKey(key_id={self.key_id!r}, secret=***)"


def parse_key(presented: str) -> ParsedKey:
    """Split ``xk_<key_id>_<secret>``; raise InvalidKeyError if the shape is wrong."""
    parts = presented.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1].isalnum() or len(parts[2]) < 16:
        raise InvalidKeyError("malformed key")
    return ParsedKey(parts[1], parts[2])


def peppered_digest(settings: Settings, secret: str) -> str:
    """HMAC-SHA256 of a key's secret under the server secret, hex-encoded."""
    pepper = settings.secret_key.get_secret_value().encode()
    return hmac.new(pepper, secret.encode(), hashlib.sha256).hexdigest()


def _label_hmac(settings: Settings, purpose: str, label: str) -> str:
    pepper = settings.secret_key.get_secret_value().encode()
    return hmac.new(pepper, f"{purpose}:{label}".encode(), hashlib.sha256).hexdigest()


def demo_key_secret(settings: Settings, label: str) -> str:
    """A deterministic key secret for a demo account, so the demo prints a working key every run."""
    if settings.env != "development":
        raise RuntimeError("demo keys exist only when XINYI_ENV=development")
    return _label_hmac(settings, "demo-key-secret", label)


def demo_key_id(settings: Settings, label: str) -> str:
    """A deterministic public key id for a demo account (development only)."""
    if settings.env != "development":
        raise RuntimeError("demo keys exist only when XINYI_ENV=development")
    return _label_hmac(settings, "demo-key-id", label)[:16]


def issue_key(
    session: Session,
    account: Account,
    settings: Settings,
    secret: str | None = None,
    key_id: str | None = None,
    expires_at: datetime | None = None,
) -> str:
    """Store a new key for ``account`` (hash only), valid until ``expires_at`` if given, and return its plaintext,
    which is shown once."""
    key_id = key_id or secrets.token_hex(8)
    secret = secret or secrets.token_urlsafe(32)
    parse_key(f"{KEY_PREFIX}_{key_id}_{secret}")  # refuse shapes that could never be presented back
    row = ApiKey(
        key_id=key_id,
        account_id=account.id,
        hash=_hasher.hash(peppered_digest(settings, secret)),
        created_at=utcnow(),
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return f"{KEY_PREFIX}_{key_id}_{secret}"


class KeyVerifier:
    """Checks presented keys against the database, remembering verified digests for a while."""

    def __init__(self, settings: Settings, throttle: FailedKeyThrottle | None = None) -> None:
        self.settings = settings
        self.throttle = throttle or FailedKeyThrottle.from_settings(settings)
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self.argon2_verifications = 0

    def _cached(self, key_id: str, digest: str) -> bool:
        with self._lock:
            entry = self._cache.get(key_id)
        if entry is None:
            return False
        cached_digest, expires = entry
        return time.monotonic() < expires and hmac.compare_digest(cached_digest, digest)

    def _remember(self, key_id: str, digest: str) -> None:
        if self.settings.key_cache_seconds <= 0:
            return
        with self._lock:
            now = time.monotonic()
            self._cache = {k: v for k, v in self._cache.items() if v[1] > now}
            if len(self._cache) >= CACHE_MAX_KEYS:  # keep it small: drop the entries closest to expiry
                excess = len(self._cache) - CACHE_MAX_KEYS + 1 + CACHE_MAX_KEYS // 10
                for stale in sorted(self._cache, key=lambda k: self._cache[k][1])[:excess]:
                    del self._cache[stale]
            self._cache[key_id] = (digest, now + self.settings.key_cache_seconds)

    def remembers(self, presented: str) -> bool:
        """Whether ``presented`` is a key verified within the cache period, so checking it again needs one database
        read and no argon2: cheap enough to run on the event loop. False for anything else."""
        try:
            parsed = parse_key(presented)
        except InvalidKeyError:
            return False
        return self._cached(parsed.key_id, peppered_digest(self.settings, parsed.secret))

    def forget(self, key_id: str) -> None:
        """Drop one key from the cache (revocation is checked in the database anyway)."""
        with self._lock:
            self._cache.pop(key_id, None)

    def verify(self, session: Session, presented: str, address: str | None = None) -> Account:
        """The account owning ``presented``; raise InvalidKeyError unless it is live and matches, KeyLockedOut
        (429) while its key id or the client ``address`` is locked out after repeated failures."""
        try:
            parsed = parse_key(presented)
        except InvalidKeyError:
            self.throttle.check(None, address)
            self.throttle.record_failure(None, address)
            raise
        self.throttle.check(parsed.key_id, address)
        try:
            account = self._verify(session, parsed)
        except InvalidKeyError:
            if self.throttle.record_failure(parsed.key_id, address):
                logger.warning("key id %s locked out after repeated failures (last from %s)", parsed.key_id, address)
            raise
        self.throttle.record_success(parsed.key_id)
        return account

    def _verify(self, session: Session, parsed: ParsedKey) -> Account:
        connection = session.connection()
        found = _KEY_AND_ACCOUNT.first(connection, {"key_id": parsed.key_id})
        if found is None:
            raise InvalidKeyError("unknown key")
        key_row_id, key_hash, revoked_at, expires_at, *account_values = found
        account_columns = dict(zip(_ACCOUNT_COLUMNS, account_values, strict=True))
        expired = expires_at is not None and expires_at <= utcnow()
        if revoked_at is not None or expired or account_columns["disabled_at"] is not None:
            self.forget(parsed.key_id)
            raise InvalidKeyError("revoked or expired key, or disabled account")
        account = _loaded_account(session, account_columns)
        digest = peppered_digest(self.settings, parsed.secret)
        if self._cached(parsed.key_id, digest):
            return account
        self.argon2_verifications += 1
        try:
            _hasher.verify(key_hash, digest)
        except (VerificationError, InvalidHashError):
            raise InvalidKeyError("key does not match") from None
        self._remember(parsed.key_id, digest)
        # written once per cache period, not per request
        connection.execute(update(ApiKey).where(ApiKey.id == key_row_id).values(last_used_at=utcnow()))
        session.commit()
        return account


def _loaded_account(session: Session, columns: dict[str, Any]) -> Account:
    """The account row just read, as a persistent object of ``session`` (the one already there, if any), without
    reading it again."""
    present = session.identity_map.get(session.identity_key(Account, columns["id"]))
    if isinstance(present, Account):
        return present
    account = Account(**columns)
    make_transient_to_detached(account)
    session.add(account)
    return account


_ACCOUNT_COLUMNS = tuple(column.key for column in Account.__table__.columns)
_KEY_AND_ACCOUNT = DirectStatement(
    select(ApiKey.id, ApiKey.hash, ApiKey.revoked_at, ApiKey.expires_at,
           *(getattr(Account, name) for name in _ACCOUNT_COLUMNS))
    .join(Account, Account.id == ApiKey.account_id)
    .where(ApiKey.key_id == bindparam("key_id"))
)
"""A presented key's row and its account's, read fresh on every request (one Core statement): revoking or
expiring the key, or disabling the account, holds from the next request on."""
