"""Factories for API tests: enterprises, banks, accounts, keys, grants, profiles, and a fake scorer."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from api.db.models import Account, Authorisation, Bank, Enterprise, EnterpriseProfile, Loan, LoanEvent, utcnow
from api.security import issue_key
from config.settings import Settings
from features.uscc import make_uscc
from scoring.facts import PolicyFacts, RevenueEvidence
from scoring.scopes import DATA_SCOPES
from scoring.types import PolicyRecord, Reason, ScoreResult

_serial = itertools.count(1)


def new_uscc() -> str:
    """A fresh, valid USCC (registered by 市场监管, an enterprise in Fuzhou)."""
    return make_uscc("9", "1", "350100", f"{next(_serial):08d}")


def add_enterprise(session: Session, uscc: str | None = None, name: str = "示范企业") -> Enterprise:
    """An enterprise row."""
    enterprise = Enterprise(uscc=uscc or new_uscc(), name=name, region_code="350100", industry="C13", status="存续")
    session.add(enterprise)
    session.commit()
    return enterprise


def add_bank(session: Session, code: str | None = None) -> Bank:
    """A bank row."""
    code = code or f"BANK_{next(_serial)}"
    bank = Bank(code=code, name=f"{code} 银行")
    session.add(bank)
    session.commit()
    return bank


def add_account(
    session: Session,
    role: str,
    bank: Bank | None = None,
    uscc: str | None = None,
    disabled_at: datetime | None = None,
) -> Account:
    """An account of one role, linked to a bank or an enterprise where that role needs one."""
    account = Account(
        role=role,
        display_name=f"{role} {next(_serial)}",
        bank_id=bank.id if bank else None,
        uscc=uscc,
        created_at=utcnow(),
        disabled_at=disabled_at,
    )
    session.add(account)
    session.commit()
    return account


def add_key(session: Session, account: Account, settings: Settings) -> str:
    """A working key for the account (plaintext)."""
    key = issue_key(session, account, settings)
    session.commit()
    return key


def add_authorisation(
    session: Session,
    uscc: str,
    bank: Bank,
    purpose: str = "pre_credit",
    scopes: Sequence[str] = ("score", *DATA_SCOPES),
    expires_at: datetime | None = None,
    revoked_at: datetime | None = None,
) -> Authorisation:
    """A grant of ``uscc`` to ``bank``, by default active for 30 days, for scores from every source."""
    now = utcnow()
    grant = Authorisation(
        uscc=uscc,
        bank_id=bank.id,
        purpose=purpose,
        scopes=list(scopes),
        granted_at=now - timedelta(days=1),
        expires_at=expires_at or now + timedelta(days=30),
        revoked_at=revoked_at,
    )
    session.add(grant)
    session.commit()
    return grant


def policy_facts(*records: PolicyRecord, sales_12m: float = 6_000_000.0, tax_paid_12m: float = 180_000.0,
                 months: int = 12) -> dict[str, Any]:
    """Stored policy facts: these records in force, and 12 months of tax and 社保 records with this revenue."""
    return PolicyFacts(records, RevenueEvidence(sales_12m, tax_paid_12m, months, months)).to_json()


_CLEAN = object()


def add_profile(
    session: Session,
    uscc: str,
    as_of: date,
    features: Mapping[str, float | None] | None = None,
    facts: dict[str, Any] | object | None = _CLEAN,
) -> EnterpriseProfile:
    """A stored profile; default features give a middling fake score, default facts no records in force.

    ``facts=None`` stores a profile whose policy facts were never computed.
    """
    default = {"tax_paid_12m": 120_000.0, "si_arrears_months": 2.0, "penalties_24m": None, "age_months": 48.0}
    stored = policy_facts() if facts is _CLEAN else facts
    profile = EnterpriseProfile(uscc=uscc, as_of=as_of, features=dict(features or default),
                                policy_facts=stored)  # type: ignore[arg-type]
    session.add(profile)
    session.commit()
    return profile


class FakeScorer:
    """A deterministic ScoreProvider: log-odds from two features, reasons in score points."""

    model_name = "fake_pd"
    model_version = "7"

    def __init__(self) -> None:
        self.calls: list[tuple[str, date]] = []

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The features this fake reads."""
        return ("tax_paid_12m", "si_arrears_months")

    def score(self, uscc: str, profile: Mapping[str, float | None], profile_as_of: date) -> ScoreResult:
        """PD from arrears (up) and tax paid (down); 20 points per unit of log-odds."""
        self.calls.append((uscc, profile_as_of))
        arrears = profile.get("si_arrears_months") or 0.0
        tax = profile.get("tax_paid_12m") or 0.0
        arrears_pull, tax_pull = 0.5 * arrears, -0.2 * math.log1p(tax / 10_000)
        log_odds = -3.0 + arrears_pull + tax_pull
        pd_ = 1 / (1 + math.exp(-log_odds))
        score = round(600 - 20 * log_odds)
        lowering = Reason("si_arrears_months", -20 * arrears_pull, arrears, "社保欠缴月数", "months of arrears")
        raising = Reason("tax_paid_12m", -20 * tax_pull, tax, "近12个月纳税额", "tax paid, last 12 months")
        grade = "A" if score >= 650 else "B" if score >= 600 else "C"
        return ScoreResult(
            uscc, pd_, score, grade, (lowering,), (raising,), self.model_name, self.model_version, profile_as_of
        )


class ExplodingScorer(FakeScorer):
    """A scorer that fails with a message no client may see."""

    def score(self, uscc: str, profile: Mapping[str, float | None], profile_as_of: date) -> ScoreResult:
        """Always raises."""
        raise RuntimeError("internal detail: /srv/models/secret-path.bin missing")


@dataclass
class Scenario:
    """An enterprise that authorised bank A (not bank B), with a profile and keys for each party."""

    uscc: str
    bank_a: Bank
    bank_b: Bank
    bank_a_key: str
    bank_b_key: str
    enterprise_key: str
    enterprise_account: Account
    grant: Authorisation
    profile_as_of: date


def build_scenario(session: Session, settings: Settings) -> Scenario:
    """The usual cast of a scoring test."""
    enterprise = add_enterprise(session)
    bank_a, bank_b = add_bank(session), add_bank(session)
    bank_a_key = add_key(session, add_account(session, "bank", bank=bank_a), settings)
    bank_b_key = add_key(session, add_account(session, "bank", bank=bank_b), settings)
    ent_account = add_account(session, "enterprise", uscc=enterprise.uscc)
    enterprise_key = add_key(session, ent_account, settings)
    grant = add_authorisation(session, enterprise.uscc, bank_a)
    as_of = date(2026, 3, 31)
    add_profile(session, enterprise.uscc, as_of)
    return Scenario(enterprise.uscc, bank_a, bank_b, bank_a_key, bank_b_key, enterprise_key, ent_account, grant, as_of)


def bearer(key: str) -> dict[str, str]:
    """The Authorization header for a key."""
    return {"Authorization": f"Bearer {key}"}


def loan_event(uscc: str, kind: str, day: date, /, **details: Any) -> dict[str, Any]:
    """A loan-event body (回传) as a bank sends it; the usual details of each type unless given."""
    usual: dict[str, dict[str, Any]] = {
        "application": {"amount": 600_000, "term_months": 12},
        "approval": {"amount": 500_000, "term_months": 12, "annual_rate": 0.0435, "credit_type": "credit"},
        "disbursement": {"amount": 500_000, "term_months": 12, "annual_rate": 0.0435, "credit_type": "credit"},
        "repayment": {"amount": 43_000},
        "overdue": {"amount": 43_000, "days_past_due": 35},
        "default": {"amount": 380_000},
        "closure": {},
    }
    body: dict[str, Any] = {"uscc": uscc, "type": kind, "event_date": day.isoformat(), **usual[kind]}
    body.update(details)
    return {k: v for k, v in body.items() if v is not None}


def add_loan(session: Session, bank: Bank, uscc: str, bank_loan_id: str | None = None) -> Loan:
    """A reported loan row."""
    loan = Loan(bank_id=bank.id, bank_loan_id=bank_loan_id or f"LN-{next(_serial)}", uscc=uscc, created_at=utcnow())
    session.add(loan)
    session.commit()
    return loan


def add_loan_event(
    session: Session,
    loan: Loan,
    kind: str,
    day: date,
    *,
    reported_at: datetime,
    account: Account,
    grant: Authorisation,
    sequence: int = 0,
    days_past_due: int | None = None,
    amount: float | None = None,
) -> LoanEvent:
    """A stored loan event written straight to the table, with the time it was reported."""
    event = LoanEvent(
        loan_id=loan.id, event_type=kind, event_date=day, sequence=sequence, amount=amount,
        days_past_due=days_past_due, payload={"type": kind, "event_date": day.isoformat()}, reported_at=reported_at,
        reported_by_account_id=account.id, authorisation_id=grant.id, request_id=f"req-{next(_serial)}",
    )
    session.add(event)
    session.commit()
    return event
