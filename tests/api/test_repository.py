"""Pipeline loading helpers: enterprises upserted, profiles replaced all-or-nothing, demo accounts once."""

from __future__ import annotations

import math
import threading
from datetime import date

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.app import create_app
from api.db.models import Account, ApiKey, Authorisation, Bank, Enterprise, EnterpriseProfile
from api.repository import create_demo_accounts, refresh_profiles, replace_profiles, upsert_enterprises
from config.settings import Settings
from scoring.facts import PolicyFacts, RevenueEvidence
from scoring.types import PolicyRecord
from tests.api.factories import FakeScorer, bearer, new_uscc


def _enterprise(uscc: str, name: str = "甲公司") -> dict[str, str]:
    return {"uscc": uscc, "name": name, "region_code": "350100", "industry": "C13", "status": "存续"}


def test_upsert_inserts_then_updates(engine: Engine, db: Session) -> None:
    a, b = new_uscc(), new_uscc()

    upsert_enterprises(engine, [_enterprise(a), _enterprise(b)])
    upsert_enterprises(engine, [_enterprise(a, "甲公司（更名）")])

    assert db.scalar(select(func.count()).select_from(Enterprise)) == 2
    assert db.get(Enterprise, a).name == "甲公司（更名）"  # type: ignore[union-attr]


def test_replace_profiles_stores_nan_as_null_and_replaces_the_same_date(engine: Engine, db: Session) -> None:
    a, b = new_uscc(), new_uscc()
    upsert_enterprises(engine, [_enterprise(a), _enterprise(b)])
    first = pd.DataFrame(
        {"uscc": [a, b], "as_of": pd.to_datetime(["2026-03-31"] * 2), "tax": [1.5, math.nan], "flag": [True, False]}
    )
    again = pd.DataFrame({"uscc": [a], "as_of": [date(2026, 3, 31)], "tax": [2.0], "flag": [False]})
    older = pd.DataFrame({"uscc": [b], "as_of": ["2025-12-31"], "tax": [None], "flag": [True]})

    assert replace_profiles(engine, first) == 2
    stored = {p.uscc: p.features for p in db.scalars(select(EnterpriseProfile))}
    replace_profiles(engine, older)
    replace_profiles(engine, again)
    db.expire_all()
    after = {(p.uscc, p.as_of): p.features for p in db.scalars(select(EnterpriseProfile))}

    assert stored[a] == {"tax": 1.5, "flag": 1.0}
    assert stored[b] == {"tax": None, "flag": 0.0}
    assert after == {
        (a, date(2026, 3, 31)): {"tax": 2.0, "flag": 0.0},
        (b, date(2025, 12, 31)): {"tax": None, "flag": 1.0},
    }


def test_replace_profiles_stores_policy_facts_with_each_profile(engine: Engine, db: Session) -> None:
    a, b = new_uscc(), new_uscc()
    upsert_enterprises(engine, [_enterprise(a), _enterprise(b)])
    black = PolicyRecord("list_entries", "black", date(2025, 6, 1), "拒不履行", "BL-1")
    facts = {a: PolicyFacts((black,), RevenueEvidence(1e6, 3e4, 12, 12)).to_json()}

    replace_profiles(engine, pd.DataFrame({"uscc": [a, b], "as_of": ["2026-03-31"] * 2, "tax": [1.0, 2.0]}), facts)

    stored = {p.uscc: p.policy_facts for p in db.scalars(select(EnterpriseProfile))}
    assert PolicyFacts.from_json(stored[a]).records == (black,)  # type: ignore[arg-type]
    assert stored[b] is None  # no facts given: never computed, not "clean"


def test_replace_profiles_is_all_or_nothing(engine: Engine, db: Session) -> None:
    a = new_uscc()
    upsert_enterprises(engine, [_enterprise(a)])
    replace_profiles(engine, pd.DataFrame({"uscc": [a], "as_of": ["2026-03-31"], "tax": [1.0]}))
    broken = pd.DataFrame({"uscc": [a, new_uscc()], "as_of": ["2026-03-31"] * 2, "tax": [9.0, 9.0]})

    with pytest.raises(IntegrityError):
        replace_profiles(engine, broken)  # the second enterprise is unknown

    db.expire_all()
    assert [p.features for p in db.scalars(select(EnterpriseProfile))] == [{"tax": 1.0}]


def test_refresh_serves_only_the_new_snapshot_and_readers_never_see_half(engine: Engine) -> None:
    usccs = [new_uscc() for _ in range(300)]
    upsert_enterprises(engine, [_enterprise(u) for u in usccs])
    old = pd.DataFrame({"uscc": usccs, "as_of": ["2026-06-30"] * 300, "tax": 1.0})
    new = pd.DataFrame({"uscc": usccs[:250], "as_of": ["2026-09-30"] * 250, "tax": 2.0})  # 50 closed since
    refresh_profiles(engine, old)
    seen: set[tuple[tuple[date, int], ...]] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            with Session(engine) as session:
                rows = session.execute(select(EnterpriseProfile.as_of, func.count()).group_by(EnterpriseProfile.as_of))
                seen.add(tuple(sorted((day, count) for day, count in rows)))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for snapshot in (new, old, new):
            refresh_profiles(engine, snapshot)
    finally:
        stop.set()
        reader.join()
    assert seen and seen <= {((date(2026, 6, 30), 300),), ((date(2026, 9, 30), 250),)}, seen  # whole ones only
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(EnterpriseProfile)) == 250


def test_non_numeric_features_are_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="industry"):
        replace_profiles(engine, pd.DataFrame({"uscc": [new_uscc()], "as_of": ["2026-03-31"], "industry": ["C13"]}))


def _counts(db: Session) -> tuple[int, ...]:
    return tuple(db.scalar(select(func.count()).select_from(t)) or 0 for t in (Account, ApiKey, Bank, Authorisation))


def test_demo_accounts_are_created_once_and_their_keys_work(engine: Engine, db: Session, settings: Settings) -> None:
    dev = settings.model_copy(update={"env": "development"})
    usccs = [new_uscc() for _ in range(6)]
    upsert_enterprises(engine, [_enterprise(u) for u in usccs])
    replace_profiles(engine, pd.DataFrame({"uscc": usccs, "as_of": ["2026-03-31"] * 6, "tax_paid_12m": [1e5] * 6}))

    first = create_demo_accounts(engine, dev, usccs)
    counts = _counts(db)
    second = create_demo_accounts(engine, dev, usccs)

    assert counts == (8, 8, 2, 1)  # regulator, 2 banks, 5 enterprises; one grant
    assert _counts(db) == counts
    assert first == second
    assert [a.label for a in first.with_role("enterprise")] == [f"enterprise_{i}" for i in range(1, 6)]
    assert first.by_label("bank_a").bank_code == "DEMO_BANK_A"
    with TestClient(create_app(dev, FakeScorer())) as client:
        a = client.post("/v1/scores", json={"uscc": usccs[0]}, headers=bearer(first.by_label("bank_a").key))
        b = client.post("/v1/scores", json={"uscc": usccs[0]}, headers=bearer(first.by_label("bank_b").key))
        own = client.get("/v1/enterprise/authorisations", headers=bearer(first.by_label("enterprise_1").key))
    assert (a.status_code, b.status_code) == (200, 403)
    assert [g["id"] for g in own.json()] == [first.authorisation_id]
    assert "key" not in repr(first.by_label("bank_a")).replace("key=***", "")


def test_demo_accounts_refuse_outside_development(engine: Engine, settings: Settings) -> None:
    a = new_uscc()
    upsert_enterprises(engine, [_enterprise(a)])

    with pytest.raises(RuntimeError, match="development"):
        create_demo_accounts(engine, settings, [a])
