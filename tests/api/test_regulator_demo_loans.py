"""The demo's loan reports: planned loans keep the loan-report rules, follow the synthetic defaults, and once
stored through ``report_event`` give the regulator figures with a year-on-year growth."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from api.db.models import Authorisation, LoanEvent, ScoreResponse
from api.demo_loans import (
    DEMO_BANK_CODES,
    LOAN_ID_PREFIX,
    PlannedLoan,
    demo_loans_stored,
    plan_loans,
    plan_screening,
    store_loans,
    store_screening,
)
from api.loans import default_date, field_errors, order_errors
from api.regulator_metrics import credit_lending, report_quality
from api.repository import create_demo_accounts
from config.settings import Settings
from tests.api.factories import add_enterprise, new_uscc

END = date(2026, 10, 31)


def _scored(usccs: list[str]) -> pd.DataFrame:
    """Every enterprise scored at four quarter ends; grades cycle A–E."""
    rows = []
    for as_of in ("2024-03-31", "2024-06-30", "2024-09-30", "2025-06-30"):
        for i, uscc in enumerate(usccs):
            rows.append({"uscc": uscc, "as_of": pd.Timestamp(as_of), "pd": 0.01 + 0.01 * (i % 5), "score": 700 - i % 5,
                         "grade": "ABCDE"[i % 5]})
    return pd.DataFrame(rows)


USCCS = [new_uscc() for _ in range(60)]
DEFAULTS = pd.Series({USCCS[0]: pd.Timestamp("2025-09-01"), USCCS[1]: pd.Timestamp("2024-01-01")})
"""The first enterprise goes 90+ days past due in September 2025; the second was in default before any loan."""


@pytest.fixture(scope="module")
def planned() -> list[PlannedLoan]:
    return plan_loans(_scored(USCCS), DEFAULTS, end=END, per_month=20, seed=3)


def test_each_month_has_its_applications(planned: list[PlannedLoan]) -> None:
    months = pd.Series([pd.Timestamp(loan.applied_on).to_period("M") for loan in planned]).value_counts()
    assert len(months) == 30 and (months == 20).all()
    assert min(loan.applied_on for loan in planned) >= date(2024, 5, 1)
    assert max(e.body.event_date for loan in planned for e in loan.events) <= END
    assert {loan.bank_code for loan in planned} == set(DEMO_BANK_CODES)
    assert USCCS[1] not in {loan.uscc for loan in planned}  # already in default: never applies


def test_events_keep_the_loan_report_rules(planned: list[PlannedLoan]) -> None:
    for loan in planned:
        stored: list[LoanEvent] = []
        for planned_event in loan.events:
            body = planned_event.body
            assert field_errors(body) == []
            assert order_errors(stored, body) == [], (loan.bank_loan_id, body)
            stored.append(LoanEvent(event_type=body.type, event_date=body.event_date, days_past_due=body.days_past_due))


def test_grades_decide_approval(planned: list[PlannedLoan]) -> None:
    decided = [loan for loan in planned if loan.applied_on <= date(2026, 10, 1)]  # approvals take up to 10 days
    approved = pd.DataFrame([(loan.grade, any(e.body.type == "approval" for e in loan.events)) for loan in decided],
                            columns=["grade", "approved"]).groupby("grade")["approved"].mean()
    assert approved["A"] == approved["B"] == approved["C"] == 1.0
    assert 0.0 < approved["E"] < approved["D"] < 1.0


def test_a_defaulting_enterprise_is_reported_90_days_past_due_in_its_default_month(
    planned: list[PlannedLoan],
) -> None:
    running = [loan for loan in planned if loan.uscc == USCCS[0]
               and any(e.body.type == "disbursement" for e in loan.events)]
    defaulted = 0
    for loan in running:
        disbursed = next(e.body for e in loan.events if e.body.type == "disbursement")
        matures = (pd.Timestamp(disbursed.event_date) + pd.DateOffset(months=disbursed.term_months or 0)).date()
        days = [default_date(LoanEvent(event_type=e.body.type, event_date=e.body.event_date,
                                       days_past_due=e.body.days_past_due)) for e in loan.events]
        reached = [d for d in days if d is not None]
        if disbursed.event_date <= date(2025, 9, 1) - timedelta(days=75) and date(2025, 9, 1) <= matures:
            assert reached and min(reached).strftime("%Y-%m") == "2025-09"
        if disbursed.event_date < date(2025, 9, 1) <= matures:
            assert reached  # 95 days past due no sooner than 95 days after the disbursement
            assert "closure" not in {e.body.type for e in loan.events}
            defaulted += 1
        else:
            assert reached == []
    assert defaulted > 0


def test_stored_through_report_event(engine: Engine, db: Session, settings: Settings) -> None:
    for uscc in USCCS:
        add_enterprise(db, uscc)
    dev = settings.model_copy(update={"env": "development"})
    create_demo_accounts(engine, dev, USCCS[:1])
    loans = plan_loans(_scored(USCCS), DEFAULTS, end=END, per_month=4, seed=5)
    stored = store_loans(engine, loans, model_name="pre_credit_pd", model_version="1")
    assert stored.events == sum(len(loan.events) for loan in loans)
    assert demo_loans_stored(engine) == len({loan.bank_loan_id for loan in loans if loan.events}) == len(loans)
    assert all(loan.bank_loan_id.startswith(LOAN_ID_PREFIX) for loan in loans)
    assert db.scalar(select(func.count()).select_from(ScoreResponse)) == len(loans)
    assert db.scalar(select(func.count()).select_from(Authorisation).where(Authorisation.purpose == "post_loan")) \
        == sum(any(e.body.type == "disbursement" for e in loan.events) for loan in loans)
    # the report time is the event date plus the bank's lag, not the moment of the demo build
    lags = report_quality(db, settings, as_of=END).set_index("bank")
    assert lags.loc["DEMO_BANK_A", "p90_lag_days"] <= 3
    assert lags.loc["DEMO_BANK_A", "events"] + lags.loc["DEMO_BANK_B", "events"] == stored.events
    lending = credit_lending(db, period="year", as_of=END).set_index("period")
    assert lending.loc["2026", "disbursed_amount"] > 0
    assert pd.notna(lending.loc["2026", "balance_yoy"])  # 30 months of loans: the growth exists


def test_screening_scores_are_stored_once(engine: Engine, db: Session, settings: Settings) -> None:
    for uscc in USCCS:
        add_enterprise(db, uscc)
    create_demo_accounts(engine, settings.model_copy(update={"env": "development"}), USCCS[:1])
    screening = plan_screening(_scored(USCCS), end=END, per_month=10, seed=5)
    assert screening["requested_on"].max() <= END
    assert (screening.groupby(pd.to_datetime(screening["requested_on"]).dt.to_period("M")).size() <= 10).all()
    # each is scored on its latest profile before its month
    assert (pd.to_datetime(screening["profile_as_of"]) < pd.to_datetime(screening["requested_on"])).all()
    assert store_screening(engine, screening, model_name="pre_credit_pd", model_version="1") == len(screening)
    assert store_screening(engine, screening, model_name="pre_credit_pd", model_version="1") == 0
    assert db.scalar(select(func.count()).select_from(ScoreResponse)) == len(screening)
