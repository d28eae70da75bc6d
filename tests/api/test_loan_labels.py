"""Default labels from stored loan reports, checked against a small fixture computed by hand.

The fixture (event dates, days past due → the day 90 days past due was reached → its month):
- E1 loan: overdue 2025-06-30 at 120 days → 2025-05-31 → 2025-05; overdue 2025-07-31 at 151 days → 2025-05-31.
- E2 loan: overdue 2025-03-31 at 60 days (no default); default event 2025-09-15 → 2025-09.
- E3 loan: overdue 2025-04-30 at 89 days (no default); default event 2025-10-01 reported 2026-03-01, after the
  observation date, so it does not count.
- E4 loan 1: overdue 2025-08-04 at 95 days → 2025-07-30 → 2025-07; loan 2: default event 2025-02-01 → 2025-02.
- E5: no loans.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy.orm import Session

from api.db.models import LoanEvent
from api.loans import default_date, loan_default_labels, loan_defaults
from tests.api.factories import (
    add_account,
    add_authorisation,
    add_bank,
    add_enterprise,
    add_loan,
    add_loan_event,
)

OBSERVED = pd.Timestamp("2026-01-31")


def _reported(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC) + timedelta(days=3)


@pytest.fixture
def fixture_usccs(db: Session) -> list[str]:
    bank = add_bank(db)
    account = add_account(db, "bank", bank=bank)
    usccs = [add_enterprise(db).uscc for _ in range(5)]
    grants = {u: add_authorisation(db, u, bank) for u in usccs}

    def events(uscc: str, *rows: tuple[str, date, int | None], reported: datetime | None = None) -> None:
        loan = add_loan(db, bank, uscc)
        add_loan_event(db, loan, "disbursement", date(2025, 1, 10), reported_at=_reported(date(2025, 1, 10)),
                       account=account, grant=grants[uscc], amount=500_000)
        for kind, day, dpd in rows:
            add_loan_event(db, loan, kind, day, reported_at=reported or _reported(day), account=account,
                           grant=grants[uscc], days_past_due=dpd, amount=1_000)

    e1, e2, e3, e4, _e5 = usccs
    events(e1, ("overdue", date(2025, 6, 30), 120), ("overdue", date(2025, 7, 31), 151))
    events(e2, ("overdue", date(2025, 3, 31), 60), ("default", date(2025, 9, 15), None))
    events(e3, ("overdue", date(2025, 4, 30), 89))
    events(e3, ("default", date(2025, 10, 1), None), reported=datetime(2026, 3, 1, tzinfo=UTC))
    events(e4, ("overdue", date(2025, 8, 4), 95))
    events(e4, ("default", date(2025, 2, 1), None))
    return usccs


def _event(kind: str, day: date, dpd: int | None) -> LoanEvent:
    return LoanEvent(event_type=kind, event_date=day, days_past_due=dpd)


@pytest.mark.parametrize(
    ("kind", "day", "dpd", "expected"),
    [
        ("overdue", date(2025, 6, 30), 120, date(2025, 5, 31)),
        ("overdue", date(2025, 6, 30), 90, date(2025, 6, 30)),
        ("overdue", date(2025, 6, 30), 89, None),
        ("default", date(2025, 9, 15), None, date(2025, 9, 15)),
        ("repayment", date(2025, 9, 15), None, None),
    ],
)
def test_the_day_a_loan_went_into_default(kind: str, day: date, dpd: int | None, expected: date | None) -> None:
    assert default_date(_event(kind, day, dpd)) == expected


def test_defaults_per_loan_by_hand(db: Session, fixture_usccs: list[str]) -> None:
    e1, e2, e3, e4, _ = fixture_usccs

    everything = loan_defaults(db)
    observed = loan_defaults(db, reported_before=datetime(2026, 2, 1, tzinfo=UTC))

    def months(frame: pd.DataFrame) -> set[tuple[str, str]]:
        return {(u, m.strftime("%Y-%m")) for u, m in zip(frame["uscc"], frame["default_month"], strict=True)}

    assert months(observed) == {(e1, "2025-05"), (e2, "2025-09"), (e4, "2025-07"), (e4, "2025-02")}
    assert months(everything) == months(observed) | {(e3, "2025-10")}
    assert list(everything.columns) == ["uscc", "default_month", "reported_on"]


def test_labels_by_hand(db: Session, fixture_usccs: list[str]) -> None:
    e1, e2, e3, e4, e5 = fixture_usccs
    profiles = pd.DataFrame(
        {
            "uscc": [e1, e2, e3, e4, e5, e1, e2],
            "as_of": pd.to_datetime(["2024-12-31"] * 5 + ["2025-06-30", "2025-06-30"]),
            "feature": range(7),
        }
    )

    labelled = loan_default_labels(db, profiles, observed_until=OBSERVED, horizon_months=12)

    # E1 mid-2025 is already in default (dropped); E2 mid-2025's 12 months are not over by 2026-01-31 (dropped)
    got = {(u, d.strftime("%Y-%m-%d")): y for u, d, y in zip(labelled["uscc"], labelled["as_of"],
                                                              labelled["default_12m"], strict=True)}
    assert got == {(e1, "2024-12-31"): 1, (e2, "2024-12-31"): 1, (e3, "2024-12-31"): 0, (e4, "2024-12-31"): 1,
                   (e5, "2024-12-31"): 0}


def test_the_horizon_is_honoured(db: Session, fixture_usccs: list[str]) -> None:
    _, e2, *_ = fixture_usccs
    profiles = pd.DataFrame({"uscc": [e2], "as_of": pd.to_datetime(["2025-03-31"])})

    six = loan_default_labels(db, profiles, observed_until=OBSERVED, horizon_months=6)
    five = loan_default_labels(db, profiles, observed_until=OBSERVED, horizon_months=5)

    assert (six["default_12m"].tolist(), five["default_12m"].tolist()) == ([1], [0])


def test_no_reports_label_everything_good(db: Session) -> None:
    uscc = add_enterprise(db).uscc
    profiles = pd.DataFrame({"uscc": [uscc], "as_of": pd.to_datetime(["2024-12-31"])})

    assert loan_default_labels(db, profiles, observed_until=OBSERVED)["default_12m"].tolist() == [0]



def test_the_days_past_due_threshold_is_the_configured_definition() -> None:
    overdue_60 = _event("overdue", date(2025, 6, 30), 60)
    assert default_date(overdue_60) is None  # 90 days by default (Settings.default_days_past_due)
    assert default_date(overdue_60, 60) == date(2025, 6, 30)
    assert default_date(overdue_60, 30) == date(2025, 5, 31)
