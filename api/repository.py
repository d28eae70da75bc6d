"""Loading helpers for the pipeline: enterprises, profiles (企业画像) and the demo's accounts and keys."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from api.db.models import Account, ApiKey, Authorisation, Bank, Enterprise, EnterpriseProfile, utcnow
from api.grants import grant_is_active
from api.schemas import DEFAULT_SCOPES
from api.security import KEY_PREFIX, demo_key_id, demo_key_secret, issue_key
from config.settings import Settings

ENTERPRISE_COLUMNS = ("uscc", "name", "region_code", "industry", "status")
_CHUNK = 2_000
DEMO_BANKS = (("DEMO_BANK_A", "Demo Bank A 示范银行甲"), ("DEMO_BANK_B", "Demo Bank B 示范银行乙"))
DEMO_ENTERPRISES_MAX = 5


def upsert_enterprises(engine: Engine, rows: Iterable[Mapping[Any, Any]]) -> int:
    """Insert or update enterprises by USCC in one transaction; returns how many rows were given."""
    records = [{c: row.get(c) for c in ENTERPRISE_COLUMNS} for row in rows]
    if not records:
        return 0
    dialect = engine.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"upsert is written for sqlite and postgresql, not {dialect}")
    make_insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
    with engine.begin() as connection:
        for start in range(0, len(records), _CHUNK):
            stmt = make_insert(Enterprise)
            stmt = stmt.on_conflict_do_update(
                index_elements=[Enterprise.uscc],
                set_={c: stmt.excluded[c] for c in ENTERPRISE_COLUMNS if c != "uscc"},
            )
            connection.execute(stmt, records[start : start + _CHUNK])
    return len(records)


def _feature_value(column: str, value: Any) -> float | None:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool):
        return float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"feature {column!r} is not numeric: {value!r}") from None
    return number if math.isfinite(number) else None


def profile_records(
    profiles: pd.DataFrame, facts: Mapping[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Rows of ``enterprise_profiles``: features as a JSON dict, NaN and infinities as null.

    ``facts`` are the policy facts by USCC (``scoring.facts.facts_by_enterprise``) computed as of the same date;
    a profile without them is stored with null facts (never computed, so its score names them as missing).
    """
    missing = {"uscc", "as_of"} - set(profiles.columns)
    if missing:
        raise ValueError(f"profiles lack columns {sorted(missing)}")
    feature_columns = [c for c in profiles.columns if c not in ("uscc", "as_of")]
    as_of = pd.to_datetime(profiles["as_of"]).dt.date
    usccs = profiles["uscc"].astype(str)
    values = profiles[feature_columns].to_numpy(dtype=object)
    return [
        {
            "uscc": uscc,
            "as_of": day,
            "features": {c: _feature_value(c, v) for c, v in zip(feature_columns, row, strict=True)},
            "policy_facts": None if facts is None else facts.get(uscc),
        }
        for uscc, day, row in zip(usccs, as_of, values, strict=True)
    ]


def replace_profiles(
    engine: Engine, profiles: pd.DataFrame, facts: Mapping[str, dict[str, Any]] | None = None
) -> int:
    """Replace every stored profile whose ``as_of`` appears in ``profiles`` (with its policy facts), all or nothing."""
    records = profile_records(profiles, facts)
    days: set[date] = {r["as_of"] for r in records}
    with engine.begin() as connection:
        if days:
            connection.execute(delete(EnterpriseProfile).where(EnterpriseProfile.as_of.in_(sorted(days))))
        for start in range(0, len(records), _CHUNK):
            connection.execute(insert(EnterpriseProfile), records[start : start + _CHUNK])
    return len(records)


def refresh_profiles(
    engine: Engine, profiles: pd.DataFrame, facts: Mapping[str, dict[str, Any]] | None = None
) -> int:
    """Make ``profiles`` (one snapshot, e.g. ``features.snapshots.latest_snapshot(...).read()``) the only profiles
    served: older profiles are deleted and the new ones inserted in one transaction, so a reader sees either the
    previous snapshot or this one, never a mix or a half."""
    records = profile_records(profiles, facts)
    with engine.begin() as connection:
        connection.execute(delete(EnterpriseProfile))
        for start in range(0, len(records), _CHUNK):
            connection.execute(insert(EnterpriseProfile), records[start : start + _CHUNK])
    return len(records)


@dataclass(frozen=True)
class DemoAccount:
    """One demo user and its working key (plaintext only here, in memory, never stored)."""

    label: str
    role: str
    key: str
    account_id: int
    uscc: str | None = None
    bank_code: str | None = None

    def __repr__(self) -> str:
        where = self.uscc or self.bank_code or "-"
        return f"DemoAccount(label={self.label!r}, role={self.role!r}, of={where!r}, key=***)"


@dataclass(frozen=True)
class DemoAccounts:
    """The demo's regulator, bank and enterprise accounts, and the one authorisation between them."""

    accounts: tuple[DemoAccount, ...]
    authorisation_id: int

    def by_label(self, label: str) -> DemoAccount:
        """The account with this label (``regulator``, ``bank_a``, ``bank_b``, ``enterprise_1`` …)."""
        for account in self.accounts:
            if account.label == label:
                return account
        raise KeyError(label)

    def with_role(self, role: str) -> tuple[DemoAccount, ...]:
        """Every demo account of one role."""
        return tuple(a for a in self.accounts if a.role == role)


def _bank(session: Session, code: str, name: str) -> Bank:
    bank = session.scalars(select(Bank).where(Bank.code == code)).first()
    if bank is None:
        bank = Bank(code=code, name=name)
        session.add(bank)
        session.flush()
    return bank


def _account(session: Session, role: str, name: str, bank_id: int | None = None, uscc: str | None = None) -> Account:
    found = session.scalars(
        select(Account).where(
            Account.role == role,
            Account.display_name == name,
            Account.bank_id.is_(None) if bank_id is None else Account.bank_id == bank_id,
            Account.uscc.is_(None) if uscc is None else Account.uscc == uscc,
        )
    ).first()
    if found is None:
        found = Account(role=role, display_name=name, bank_id=bank_id, uscc=uscc, created_at=utcnow())
        session.add(found)
        session.flush()
    return found


def _demo_key(session: Session, account: Account, settings: Settings, label: str) -> str:
    key_id, secret = demo_key_id(settings, label), demo_key_secret(settings, label)
    stored = session.scalars(select(ApiKey).where(ApiKey.key_id == key_id)).first()
    if stored is None:
        return issue_key(session, account, settings, secret=secret, key_id=key_id)
    if stored.account_id != account.id or stored.revoked_at is not None:
        return issue_key(session, account, settings, secret=secret)  # the deterministic id is spent
    return f"{KEY_PREFIX}_{key_id}_{secret}"


def create_demo_accounts(engine: Engine, settings: Settings, enterprise_usccs: Sequence[str]) -> DemoAccounts:
    """Create the demo's accounts, keys and grant once; later runs change nothing (development only)."""
    usccs = list(dict.fromkeys(enterprise_usccs))[:DEMO_ENTERPRISES_MAX]
    if not usccs:
        raise ValueError("the demo needs at least one enterprise USCC")
    demo_key_secret(settings, "check")  # refuse outside development before writing anything
    out: list[DemoAccount] = []
    with Session(engine, expire_on_commit=False) as session, session.begin():
        unknown = [u for u in usccs if session.get(Enterprise, u) is None]
        if unknown:
            raise ValueError(f"unknown enterprises {unknown}; load them with upsert_enterprises first")
        regulator = _account(session, "regulator", "Demo regulator 示范监管")
        out.append(
            DemoAccount("regulator", "regulator", _demo_key(session, regulator, settings, "regulator"), regulator.id)
        )
        banks = []
        for letter, (code, name) in zip("ab", DEMO_BANKS, strict=True):
            bank = _bank(session, code, name)
            banks.append(bank)
            label = f"bank_{letter}"
            account = _account(session, "bank", f"{name} loan officer", bank_id=bank.id)
            key = _demo_key(session, account, settings, label)
            out.append(DemoAccount(label, "bank", key, account.id, bank_code=code))
        for i, uscc in enumerate(usccs, start=1):
            label = f"enterprise_{i}"
            account = _account(session, "enterprise", f"Demo enterprise {uscc}", uscc=uscc)
            out.append(
                DemoAccount(label, "enterprise", _demo_key(session, account, settings, label), account.id, uscc=uscc)
            )
        grant = _demo_authorisation(
            session, settings, usccs[0], banks[0].id, next(a.account_id for a in out if a.uscc == usccs[0])
        )
    return DemoAccounts(tuple(out), grant.id)


def _demo_authorisation(
    session: Session, settings: Settings, uscc: str, bank_id: int, granted_by: int
) -> Authorisation:
    now = utcnow()
    grant = session.scalars(
        select(Authorisation).where(Authorisation.uscc == uscc, grant_is_active(bank_id, "pre_credit", now))
    ).first()
    if grant is None:
        grant = Authorisation(
            uscc=uscc,
            bank_id=bank_id,
            purpose="pre_credit",
            scopes=list(DEFAULT_SCOPES),
            granted_at=now,
            expires_at=now + timedelta(days=settings.authorisation_days_default),
            granted_by_account_id=granted_by,
        )
        session.add(grant)
        session.flush()
    return grant
