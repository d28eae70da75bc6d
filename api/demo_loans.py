"""演示回传: the demo region's banks lend, and report it, so regulators and monitoring see real figures.

Each month over the last 30 before extraction, a seeded sample of operating enterprises asks one of the demo
banks for a loan. The bank scores it with the champion (the stored score the monitoring reads), approves grades
A–C and some of D and E, disburses, is repaid quarterly, and closes the loan at maturity — unless the synthetic
outcomes say the enterprise defaults within the term: then repayments stop, it is reported 30 and 95 days past
due, and sometimes in default. Bank A reports within days; bank B is slower and misses some follow-ups. Every
event goes through ``api.loans.report_event``, as the loan-report endpoint stores it, under the enterprise's
grant; the report time is then set to the event date plus the bank's lag (the demo reports history at once).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from api.db.models import Account, Authorisation, Bank, Loan, LoanEvent, ScoreResponse
from api.loans import report_event
from api.repository import DEMO_BANKS
from api.schemas import DEFAULT_SCOPES
from api.schemas_loans import BUSINESS_TIMEZONE, LoanEventIn

LOAN_ID_PREFIX = "DEMO-"
DEMO_BANK_CODES = tuple(code for code, _name in DEMO_BANKS)
MONTHS = 30
APPROVED_GRADES = ("A", "B", "C")
CREDIT_SHARE = 0.65
"""Share of demo loans that are credit (信用) loans; the rest are secured."""
BANK_LAGS = {"DEMO_BANK_A": (0, 3, 0.0), "DEMO_BANK_B": (1, 20, 0.08)}
"""Per bank: report lag in days drawn between the two bounds, and the share reported 31–60 days late."""
BANK_MISSES_FOLLOW_UP = {"DEMO_BANK_A": 0.0, "DEMO_BANK_B": 0.06}
"""Per bank: the share of disbursed loans it never reports on again."""
APPROVAL_RATE = {"A": 1.0, "B": 1.0, "C": 1.0, "D": 0.6, "E": 0.25}
"""Share of applications each grade gets approved (with collateral or a guarantee, some E grades do)."""
APPLICATIONS_PER_ENTERPRISES = 600
"""Each month one enterprise in 600 applies (33 a month in the 20,000-enterprise demo)."""
SCREENED_PER_ENTERPRISES = 50
"""Each month one enterprise in 50 is scored by a bank without applying (400 a month in the demo)."""


@dataclass(frozen=True)
class PlannedEvent:
    """One event to report, how many days after its date the bank reports it, and under which grant."""

    body: LoanEventIn
    lag_days: int
    post_loan: bool


@dataclass(frozen=True)
class PlannedLoan:
    """One application: the bank, its loan id, the score it was given, and the events that followed."""

    bank_code: str
    bank_loan_id: str
    uscc: str
    applied_on: date
    profile_as_of: date
    pd: float
    score: int
    grade: str
    events: tuple[PlannedEvent, ...]


def _lag(rng: np.random.Generator, bank: str) -> int:
    low, high, late = BANK_LAGS.get(bank, (0, 3, 0.0))
    return int(rng.integers(31, 61)) if rng.random() < late else int(rng.integers(low, high + 1))


def _event(uscc: str, kind: str, day: date, **detail: object) -> LoanEventIn:
    return LoanEventIn.model_validate({"uscc": uscc, "type": kind, "event_date": day, **detail})


def _loan_events(rng: np.random.Generator, uscc: str, bank: str, applied: date, grade: str,
                 default_month: pd.Timestamp | None, end: date) -> list[PlannedEvent]:
    """Application, then — if approved — disbursement, quarterly repayments and closure or the road to default."""
    amount = float(min(3_000_000, max(50_000, round(rng.lognormal(np.log(500_000), 0.6), -4))))
    events = [PlannedEvent(_event(uscc, "application", applied, amount=amount), _lag(rng, bank), False)]
    if rng.random() >= APPROVAL_RATE.get(grade, 0.0):
        return events
    approved = applied + timedelta(days=int(rng.integers(1, 10)))
    disbursed = approved + timedelta(days=int(rng.integers(0, 6)))
    term = int(rng.choice([6, 12, 12, 12, 24]))
    credit = "credit" if rng.random() < CREDIT_SHARE else "secured"
    rate = round(float(rng.uniform(0.0345, 0.06)), 4)
    matures = (pd.Timestamp(disbursed) + pd.DateOffset(months=term)).date()
    plan: list[tuple[str, date, dict[str, object]]] = [("approval", approved, {"amount": amount, "term_months": term}),
            ("disbursement", disbursed, {"amount": amount, "term_months": term, "annual_rate": rate,
                                         "credit_type": credit})]
    defaults = default_month is not None and disbursed < default_month.date() <= matures
    stop = (default_month - pd.DateOffset(months=3)).date() if defaults and default_month is not None else matures
    installment = round(amount * 3 / term, 2)
    repaid, k = 0.0, 1
    while True:
        day = (pd.Timestamp(disbursed) + pd.DateOffset(months=3 * k)).date()
        if day > min(stop, matures) or repaid >= amount:
            break
        paid = min(installment, round(amount - repaid, 2))
        plan.append(("repayment", day, {"amount": paid}))
        repaid, k = repaid + paid, k + 1
    if defaults and default_month is not None:
        outstanding = round(amount - repaid, 2)
        first_day = max(default_month.date(), disbursed + timedelta(days=75))  # 95 days past due needs 95 days
        plan.append(("overdue", first_day - timedelta(days=46), {"amount": outstanding, "days_past_due": 30}))
        plan.append(("overdue", first_day + timedelta(days=19), {"amount": outstanding, "days_past_due": 95}))
        if rng.random() < 0.5:
            plan.append(("default", first_day + timedelta(days=40), {"amount": outstanding}))
    else:
        if repaid < amount:
            plan.append(("repayment", matures, {"amount": round(amount - repaid, 2)}))
        plan.append(("closure", matures, {}))
    missed = rng.random() < BANK_MISSES_FOLLOW_UP.get(bank, 0.0)
    for kind, day, detail in plan:
        if day > end or (missed and kind not in ("approval", "disbursement")):
            continue
        events.append(PlannedEvent(_event(uscc, kind, day, **detail), _lag(rng, bank),
                                   kind not in ("approval", "disbursement")))
    return events


def plan_loans(
    scored: pd.DataFrame,
    default_months: pd.Series,
    *,
    end: date,
    per_month: int,
    seed: int,
    banks: Sequence[str] = DEMO_BANK_CODES,
    months: int = MONTHS,
) -> list[PlannedLoan]:
    """Applications over the ``months`` months up to ``end``: each month ``per_month`` enterprises, scored on
    their latest profile before the month (``scored``: ``uscc``, ``as_of``, ``pd``, ``score``, ``grade``);
    enterprises already in default (``default_months``: uscc → first month 90+ days past due) do not apply."""
    rng = np.random.default_rng(seed)
    scored = scored.assign(as_of=pd.to_datetime(scored["as_of"]))
    dates = np.sort(scored["as_of"].unique())
    first = (pd.Timestamp(end).to_period("M") - (months - 1)).to_timestamp()
    loans: list[PlannedLoan] = []
    for month in pd.date_range(first, periods=months, freq="MS"):
        usable = dates[dates < month]
        if usable.size == 0:
            continue
        pool = scored[scored["as_of"] == usable[-1]]
        in_default = pool["uscc"].map(default_months)
        pool = pool[~(in_default.notna() & (in_default <= month))]
        picks = pool.iloc[rng.choice(len(pool), size=min(per_month, len(pool)), replace=False)]
        for row in picks.itertuples(index=False):
            applied = (month + pd.Timedelta(days=int(rng.integers(0, 28)))).date()
            if applied > end:
                continue
            bank = str(banks[int(rng.integers(0, len(banks)))])
            default_month = default_months.get(row.uscc)
            events = _loan_events(rng, str(row.uscc), bank, applied, str(row.grade),
                                  None if pd.isna(default_month) else pd.Timestamp(default_month), end)
            loans.append(PlannedLoan(bank, f"{LOAN_ID_PREFIX}{len(loans) + 1:06d}", str(row.uscc), applied,
                                     pd.Timestamp(row.as_of).date(), float(row.pd), int(row.score), str(row.grade),
                                     tuple(events)))
    return loans


def plan_screening(scored: pd.DataFrame, *, end: date, per_month: int, seed: int,
                   banks: Sequence[str] = DEMO_BANK_CODES, months: int = MONTHS) -> pd.DataFrame:
    """Banks score many more enterprises than ask for a loan (筛查): each month ``per_month`` enterprises scored on
    their latest profile before the month, by a demo bank, on a day of that month up to ``end``. Rows: ``id``
    (stable, so a second run stores nothing new), ``uscc``, ``bank``, ``requested_on``, ``profile_as_of``,
    ``pd``, ``score``, ``grade``."""
    rng = np.random.default_rng(seed + 1)
    scored = scored.assign(as_of=pd.to_datetime(scored["as_of"]))
    dates = np.sort(scored["as_of"].unique())
    first = (pd.Timestamp(end).to_period("M") - (months - 1)).to_timestamp()
    frames = []
    for month in pd.date_range(first, periods=months, freq="MS"):
        usable = dates[dates < month]
        if usable.size == 0:
            continue
        pool = scored[scored["as_of"] == usable[-1]]
        picks = pool.iloc[rng.choice(len(pool), size=min(per_month, len(pool)), replace=False)]
        days = month + pd.to_timedelta(rng.integers(0, 28, len(picks)), unit="D")
        frames.append(pd.DataFrame({
            "id": [uuid.uuid5(uuid.NAMESPACE_URL, f"xinyi-demo-screening/{month:%Y-%m}/{u}") for u in picks["uscc"]],
            "uscc": picks["uscc"].to_numpy(), "bank": rng.choice(list(banks), len(picks)),
            "requested_on": days.date, "profile_as_of": picks["as_of"].dt.date.to_numpy(),
            "pd": picks["pd"].to_numpy(), "score": picks["score"].to_numpy(), "grade": picks["grade"].to_numpy(),
        }))
    screening = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return screening[screening["requested_on"] <= end] if len(screening) else screening


def store_screening(engine: Engine, screening: pd.DataFrame, *, model_name: str, model_version: str) -> int:
    """Store the screening scores as the banks' stored score responses; nothing when they are there already."""
    if screening.empty:
        return 0
    with Session(engine) as session:
        if session.get(ScoreResponse, screening["id"].iloc[0]) is not None:
            return 0
        banks = {b.code: b.id for b in session.scalars(select(Bank))}
        session.add_all(
            ScoreResponse(id=row["id"], uscc=row["uscc"], bank_id=banks[row["bank"]],
                          requested_at=_at(row["requested_on"], 11), probability_of_default=float(row["pd"]),
                          score=int(row["score"]), grade=str(row["grade"]), reasons={"lowering": [], "raising": []},
                          model_name=model_name, model_version=model_version, profile_as_of=row["profile_as_of"])
            for row in screening.to_dict("records")
        )
        session.commit()
    return len(screening)


def demo_loans_stored(engine: Engine) -> int:
    """How many demo loans the service database holds."""
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(Loan)
                              .where(Loan.bank_loan_id.like(f"{LOAN_ID_PREFIX}%"))) or 0


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), BUSINESS_TIMEZONE).astimezone(UTC)


@dataclass(frozen=True)
class StoredLoans:
    """What the stage stored."""

    applications: int
    events: int


def store_loans(engine: Engine, loans: Sequence[PlannedLoan], *, model_name: str, model_version: str) -> StoredLoans:
    """Store each application's score, the enterprise's grants, and every event through ``report_event``; then
    set each event's report time to its date plus the bank's lag."""
    reported: list[dict[str, object]] = []
    with Session(engine, expire_on_commit=False) as session:
        banks = {b.code: b for b in session.scalars(select(Bank))}
        reporters = {code: session.scalars(select(Account).where(Account.role == "bank",
                                                                 Account.bank_id == bank.id)).first()
                     for code, bank in banks.items()}
        for loan in loans:
            bank, reporter = banks[loan.bank_code], reporters[loan.bank_code]
            if reporter is None:
                raise ValueError(f"the demo bank {loan.bank_code} has no account to report with")
            grants = _grants(session, loan, bank.id)
            session.add(ScoreResponse(
                id=uuid.uuid5(uuid.NAMESPACE_URL, f"xinyi-demo-score/{loan.bank_loan_id}"), uscc=loan.uscc,
                bank_id=bank.id, requested_at=_at(loan.applied_on, 9), probability_of_default=loan.pd,
                score=loan.score, grade=loan.grade, reasons={"lowering": [], "raising": []}, model_name=model_name,
                model_version=model_version, profile_as_of=loan.profile_as_of,
            ))
            for i, planned in enumerate(loan.events):
                stored = report_event(
                    session, bank_id=bank.id, bank_loan_id=loan.bank_loan_id, body=planned.body,
                    account_id=reporter.id, authorisation_id=grants[planned.post_loan],
                    request_id=f"demo-{loan.bank_loan_id}-{i}",
                )
                lag = timedelta(days=planned.lag_days)
                reported.append({"id": stored.event.id, "reported_at": _at(planned.body.event_date + lag, 16)})
        session.execute(update(LoanEvent), reported)
        session.commit()
    return StoredLoans(len(loans), len(reported))


def _grants(session: Session, loan: PlannedLoan, bank_id: int) -> dict[bool, int]:
    """The pre-credit grant given the day before applying (a year) and, once disbursed, a post-loan grant to
    three months after maturity; keyed by ``post_loan``."""
    granted = _at(loan.applied_on - timedelta(days=1), 20)
    pre = Authorisation(uscc=loan.uscc, bank_id=bank_id, purpose="pre_credit", scopes=list(DEFAULT_SCOPES),
                        granted_at=granted, expires_at=granted + timedelta(days=365))
    session.add(pre)
    disbursement = next((e.body for e in loan.events if e.body.type == "disbursement"), None)
    post = pre
    if disbursement is not None and disbursement.term_months is not None:
        ends = (pd.Timestamp(disbursement.event_date) + pd.DateOffset(months=disbursement.term_months + 3)).date()
        post = Authorisation(uscc=loan.uscc, bank_id=bank_id, purpose="post_loan", scopes=list(DEFAULT_SCOPES),
                             granted_at=_at(disbursement.event_date, 8), expires_at=_at(ends, 23))
        session.add(post)
    session.flush()
    return {False: pre.id, True: post.id}
