"""Regulator metrics against figures computed by hand from a small, explicit fixture of loan reports.

The fixture (``lending_book``), as of 2026-03-31:

    loan  bank  enterprise (region, industry, size)  type     events (date: amount)                         lag days
    L1    A     E1 (350100, C13, 小)                  credit   approval 2025-01-05, disbursement 2025-01-10: 100  1, 1
                                                               repayment 2025-03-15: 30, repayment 2026-01-05: 70  3, 3
                                                               closure 2026-01-10                                  1
    L2    A     E2 (350200, F51, 微)                  credit   approval 2025-02-18, disbursement 2025-02-20: 200  0, 0
                                                               overdue 2025-06-30: 50 at 95 days past due          40
    L3    B     E1                                    secured  approval 2025-01-30, disbursement 2025-02-01: 500  5, 5
    L4    B     E3 (350100, C13, no profile)          credit   approval 2026-01-28, disbursement 2026-02-01: 300  10, 10
                                                               repayment 2026-03-01: 50                            31
    L5    A     E1                                    credit   approval 2026-01-15, disbursement 2026-01-15: 150  2, 2

Bank C is connected but has reported nothing. Terms: L1 12, L2 6, L3 12, L4 12, L5 3 months.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from api.db.models import Bank, Enterprise, Loan, LoanEvent, ScoreResponse, utcnow
from api.regulator_metrics import (
    MetricsUnavailable,
    coverage,
    credit_lending,
    data_quality,
    policy_declines,
    report_quality,
)
from api.schemas_loans import BUSINESS_TIMEZONE
from config.settings import Settings
from tests.api.factories import add_account, add_authorisation, add_bank, add_enterprise, add_key, add_profile

AS_OF = date(2026, 3, 31)


@dataclass
class Book:
    """The fixture's parties."""

    bank_a: Bank
    bank_b: Bank
    bank_c: Bank
    e1: Enterprise
    e2: Enterprise
    e3: Enterprise


def _enterprise(db: Session, region: str, industry: str, status: str = "存续") -> Enterprise:
    enterprise = add_enterprise(db)
    enterprise.region_code, enterprise.industry, enterprise.status = region, industry, status
    db.commit()
    return enterprise


def _reported(day: date, lag: int) -> datetime:
    """Noon in Beijing ``lag`` days after the event."""
    return datetime.combine(day + timedelta(days=lag), time(12), BUSINESS_TIMEZONE).astimezone(UTC)


def _loan(db: Session, bank: Bank, enterprise: Enterprise, name: str, reporter: int, grant: int,
          events: list[tuple[str, date, int, dict[str, object]]]) -> None:
    loan = Loan(bank_id=bank.id, bank_loan_id=name, uscc=enterprise.uscc, created_at=utcnow())
    db.add(loan)
    db.flush()
    for sequence, (kind, day, lag, detail) in enumerate(events):
        db.add(LoanEvent(loan_id=loan.id, event_type=kind, event_date=day, sequence=sequence, payload={},
                         reported_at=_reported(day, lag), reported_by_account_id=reporter,
                         authorisation_id=grant, request_id=f"{name}-{sequence}", **detail))  # type: ignore[arg-type]
    db.commit()


def _credit(amount: float, term: int, kind: str = "credit") -> dict[str, object]:
    return {"amount": amount, "term_months": term, "annual_rate": 0.05, "credit_type": kind}


@pytest.fixture
def book(db: Session, settings: Settings) -> Book:
    e1 = _enterprise(db, "350100", "C13")
    e2 = _enterprise(db, "350200", "F51")
    e3 = _enterprise(db, "350100", "C13")
    add_profile(db, e1.uscc, date(2026, 3, 31), {"size_class_code": 1.0})
    add_profile(db, e1.uscc, date(2025, 12, 31), {"size_class_code": 3.0})  # older: not used
    add_profile(db, e2.uscc, date(2026, 3, 31), {"size_class_code": 0.0})
    bank_a, bank_b, bank_c = add_bank(db, "A"), add_bank(db, "B"), add_bank(db, "C")
    reporter_a = add_account(db, "bank", bank=bank_a)
    reporter_b = add_account(db, "bank", bank=bank_b)
    add_key(db, reporter_a, settings)
    add_key(db, reporter_b, settings)
    add_key(db, add_account(db, "bank", bank=bank_c), settings)
    grant_a = add_authorisation(db, e1.uscc, bank_a).id
    grant_b = add_authorisation(db, e1.uscc, bank_b).id
    d = date
    _loan(db, bank_a, e1, "L1", reporter_a.id, grant_a, [
        ("approval", d(2025, 1, 5), 1, {}), ("disbursement", d(2025, 1, 10), 1, _credit(100, 12)),
        ("repayment", d(2025, 3, 15), 3, {"amount": 30}), ("repayment", d(2026, 1, 5), 3, {"amount": 70}),
        ("closure", d(2026, 1, 10), 1, {}),
    ])
    _loan(db, bank_a, e2, "L2", reporter_a.id, grant_a, [
        ("approval", d(2025, 2, 18), 0, {}), ("disbursement", d(2025, 2, 20), 0, _credit(200, 6)),
        ("overdue", d(2025, 6, 30), 40, {"amount": 50, "days_past_due": 95}),
    ])
    _loan(db, bank_b, e1, "L3", reporter_b.id, grant_b, [
        ("approval", d(2025, 1, 30), 5, {}), ("disbursement", d(2025, 2, 1), 5, _credit(500, 12, "secured")),
    ])
    _loan(db, bank_b, e3, "L4", reporter_b.id, grant_b, [
        ("approval", d(2026, 1, 28), 10, {}), ("disbursement", d(2026, 2, 1), 10, _credit(300, 12)),
        ("repayment", d(2026, 3, 1), 31, {"amount": 50}),
    ])
    _loan(db, bank_a, e1, "L5", reporter_a.id, grant_a, [
        ("approval", d(2026, 1, 15), 2, {}), ("disbursement", d(2026, 1, 15), 2, _credit(150, 3)),
    ])
    return Book(bank_a, bank_b, bank_c, e1, e2, e3)


def _rows(frame, **where):  # type: ignore[no-untyped-def]
    for name, value in where.items():
        frame = frame[frame[name] == value]
    return frame.set_index("period")


def _close(value: object, expected: float | None) -> bool:
    if expected is None:
        return value is None or (isinstance(value, float) and math.isnan(value))
    return value == pytest.approx(expected)


def test_platform_credit_lending_by_month(db: Session, book: Book) -> None:
    table = _rows(credit_lending(db, as_of=AS_OF), group="all")
    # months from the first credit disbursement (2025-01) to 2026-03
    assert list(table.index) == [f"2025-{m:02d}" for m in range(1, 13)] + ["2026-01", "2026-02", "2026-03"]
    # disbursed: L1 100 in 2025-01, L2 200 in 2025-02, L5 150 in 2026-01, L4 300 in 2026-02; L3 is secured
    expected_disbursed = {"2025-01": 100, "2025-02": 200, "2026-01": 150, "2026-02": 300}
    for period, row in table.iterrows():
        assert row["disbursed_amount"] == expected_disbursed.get(str(period), 0)
    # balance: L1 100 → 70 after March 2025 → 0 in January 2026 (repaid, closed); L2 200 for good (defaulted, not
    # closed); L5 150 from January 2026; L4 300 in February 2026, 250 in March
    assert table.loc["2025-01", "balance"] == 100
    assert table.loc["2025-02", "balance"] == 300
    assert table.loc["2025-03", "balance"] == 270
    assert table.loc["2025-12", "balance"] == 270
    assert table.loc["2026-01", "balance"] == 200 + 150
    assert table.loc["2026-02", "balance"] == 200 + 150 + 300
    assert table.loc["2026-03", "balance"] == 200 + 150 + 250
    # 年增速 against the same month a year before
    assert _close(table.loc["2026-01", "balance_yoy"], 350 / 100 - 1)
    assert _close(table.loc["2026-02", "balance_yoy"], 650 / 300 - 1)
    assert _close(table.loc["2026-03", "balance_yoy"], 600 / 270 - 1)
    assert _close(table.loc["2026-01", "disbursed_yoy"], 150 / 100 - 1)
    assert _close(table.loc["2026-02", "disbursed_yoy"], 300 / 200 - 1)
    assert _close(table.loc["2026-03", "disbursed_yoy"], None)  # nothing disbursed in March 2025
    assert _close(table.loc["2025-12", "balance_yoy"], None)  # no month a year before
    # 首贷户: E1's first disbursement is L1 (January 2025), E2's L2, E3's L4; L5 is E1's second
    assert table["first_time_borrowers"].to_dict() == {
        **{p: 0 for p in table.index}, "2025-01": 1, "2025-02": 1, "2026-02": 1}


def test_credit_lending_by_year(db: Session, book: Book) -> None:
    table = _rows(credit_lending(db, period="year", as_of=AS_OF), group="all")
    assert list(table.index) == ["2025", "2026"]
    assert table.loc["2025", "disbursed_amount"] == 300
    assert table.loc["2025", "loans_disbursed"] == 2
    assert table.loc["2025", "borrowers"] == 2
    assert table.loc["2025", "first_time_borrowers"] == 2
    assert table.loc["2025", "balance"] == 270  # December 2025
    assert table.loc["2026", "disbursed_amount"] == 450
    assert table.loc["2026", "borrowers"] == 2  # E1 (L5) and E3 (L4)
    assert table.loc["2026", "first_time_borrowers"] == 1  # E3
    assert table.loc["2026", "balance"] == 600  # March 2026, the as-of month
    assert _close(table.loc["2026", "disbursed_yoy"], 450 / 300 - 1)
    assert _close(table.loc["2026", "balance_yoy"], 600 / 270 - 1)


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("bank", {"A": 200 + 150, "B": 250}),  # L3 (bank B) is secured
        ("region", {"350100": 150 + 250, "350200": 200}),
        ("industry", {"C13": 150 + 250, "F51": 200}),
        ("size_class", {"小": 150, "微": 200, "unknown": 250}),  # E1's latest profile says 小; E3 has none
    ],
)
def test_credit_balance_by_group(db: Session, book: Book, by: str, expected: dict[str, float]) -> None:
    table = credit_lending(db, by=by, as_of=AS_OF)  # type: ignore[arg-type]
    march = table[table["period"] == "2026-03"].set_index("group")["balance"].to_dict()
    assert march == expected


def test_credit_lending_without_credit_loans_is_empty(db: Session) -> None:
    assert credit_lending(db, as_of=AS_OF).empty


def test_report_quality_per_bank(db: Session, book: Book, settings: Settings) -> None:
    table = report_quality(db, settings, as_of=AS_OF).set_index("bank")
    a, b, c = table.loc["A"], table.loc["B"], table.loc["C"]
    # A's lags: L1 1,1,3,3,1; L2 0,0,40; L5 2,2 → sorted 0 0 1 1 1 2 2 3 3 40
    assert a["events"] == 10
    assert a["median_lag_days"] == 1.5
    assert a["p90_lag_days"] == pytest.approx(3 + 0.1 * (40 - 3))  # linear between the 9th and 10th
    assert a["on_time_rate"] == pytest.approx(9 / 10)  # only L2's overdue came after 30 days
    # due a follow-up: disbursed by 2026-01-30 (60 days before as-of): L1, L2, L5; L5 has nothing after
    assert (a["disbursed_loans"], a["due_follow_up"], a["followed_up"]) == (3, 3, 2)
    assert a["follow_up_rate"] == pytest.approx(2 / 3)
    # matured: L1 (to 2026-01-10) closed, L2 (to 2025-08-20) 95 days past due; L5 runs to 2026-04-15
    assert (a["matured"], a["resolved"], a["resolution_rate"]) == (2, 2, 1.0)
    # B's lags: 5, 5, 10, 10, 31
    assert (b["events"], b["median_lag_days"], b["on_time_rate"]) == (5, 10.0, pytest.approx(4 / 5))
    assert b["p90_lag_days"] == pytest.approx(10 + 0.6 * 21)
    # L3 disbursed 2025-02-01 with nothing since; L4 (2026-02-01) is not due yet
    assert (b["due_follow_up"], b["followed_up"], b["follow_up_rate"]) == (1, 0, 0.0)
    assert (b["matured"], b["resolved"], b["resolution_rate"]) == (1, 0, 0.0)
    assert c["events"] == 0 and _close(c["on_time_rate"], None)


def test_deadline_comes_from_settings(db: Session, book: Book, settings: Settings) -> None:
    strict = settings.model_copy(update={"loan_report_deadline_days": 2})
    table = report_quality(db, strict, as_of=AS_OF).set_index("bank")
    assert table.loc["A", "on_time_rate"] == pytest.approx(7 / 10)  # 0 0 1 1 1 2 2 within two days
    assert table.loc["B", "on_time_rate"] == 0.0


def test_coverage_against_targets(db: Session, settings: Settings) -> None:
    enterprises = [_enterprise(db, "350100", "C13") for _ in range(10)]
    _enterprise(db, "350100", "C13", status="注销")  # closed: not an existing enterprise
    bank_a, bank_b, bank_c = add_bank(db), add_bank(db), add_bank(db)
    add_key(db, add_account(db, "bank", bank=bank_a), settings)
    add_key(db, add_account(db, "bank", bank=bank_b), settings)
    add_key(db, add_account(db, "bank", bank=bank_c, disabled_at=utcnow()), settings)  # not connected
    e1, e2, e3 = enterprises[:3]
    add_account(db, "enterprise", uscc=e1.uscc)
    add_account(db, "enterprise", uscc=e2.uscc)
    add_account(db, "enterprise", uscc=e2.uscc)  # a second login of E2 counts once
    add_account(db, "enterprise", uscc=e3.uscc, disabled_at=utcnow())
    add_authorisation(db, e1.uscc, bank_a)
    add_authorisation(db, e1.uscc, bank_b)
    add_authorisation(db, e2.uscc, bank_a, expires_at=utcnow() - timedelta(days=1))  # expired
    add_authorisation(db, e3.uscc, bank_b, revoked_at=utcnow() - timedelta(hours=1))  # revoked

    lines = {line.measure: line for line in coverage(db, settings)}
    registered, authorised, banks = (lines["enterprises_registered"], lines["enterprises_authorised"],
                                     lines["banks_connected"])
    assert (registered.numerator, registered.denominator, registered.rate) == (2, 10, 0.2)
    assert registered.meets_target is False  # the target is more than 20 %
    assert (authorised.numerator, authorised.denominator, authorised.meets_target) == (1, 10, False)
    assert (banks.numerator, banks.denominator, banks.meets_target) == (2, 3, True)
    assert "register" in registered.denominator_source

    configured = settings.model_copy(update={"regulator_existing_enterprises": 5, "regulator_total_banks": 5})
    lines = {line.measure: line for line in coverage(db, configured)}
    assert (lines["enterprises_registered"].rate, lines["enterprises_registered"].meets_target) == (0.4, True)
    assert (lines["enterprises_authorised"].rate, lines["enterprises_authorised"].meets_target) == (0.2, True)
    assert (lines["banks_connected"].rate, lines["banks_connected"].meets_target) == (0.4, False)
    assert "XINYI_REGULATOR_TOTAL_BANKS" in lines["banks_connected"].denominator_source


def _hit(rule: str, action: str) -> dict[str, object]:
    return {"rule_id": rule, "rule_version": "1", "action": action, "record": {}, "text_zh": f"{rule} 中文",
            "text_en": f"{rule} words"}


def test_policy_declines_by_rule(db: Session) -> None:
    e1, e2 = add_enterprise(db), add_enterprise(db)
    bank = add_bank(db)
    stored = [
        (e1, "decline", [_hit("black_list", "decline")], datetime(2026, 3, 1, tzinfo=UTC)),
        (e2, "decline", [_hit("black_list", "decline"), _hit("penalty", "refer")], datetime(2026, 3, 2, tzinfo=UTC)),
        (e1, "refer", [_hit("penalty", "refer")], datetime(2026, 3, 3, tzinfo=UTC)),
        (e2, "approve", [], datetime(2026, 3, 4, tzinfo=UTC)),
        (e2, "refer", [_hit("penalty", "refer")], datetime(2026, 2, 1, tzinfo=UTC)),  # before the window
    ]
    for enterprise, decision, hits, at in stored:
        db.add(ScoreResponse(id=uuid.uuid4(), uscc=enterprise.uscc, bank_id=bank.id, requested_at=at,
                             reasons={}, model_name="m", model_version="1", profile_as_of=date(2026, 1, 31),
                             decision=decision, policy_hits=hits))
    db.commit()
    table = policy_declines(db, since=date(2026, 3, 1)).set_index("rule_id")
    assert list(table.index) == ["black_list", "penalty"]
    assert table.loc["black_list", ["hits", "enterprises", "declines"]].tolist() == [2, 2, 2]
    assert table.loc["penalty", ["hits", "enterprises", "declines"]].tolist() == [2, 2, 1]
    assert table.loc["penalty", "text_en"] == "penalty words"
    everything = policy_declines(db).set_index("rule_id")
    assert everything.loc["penalty", "hits"] == 3


def test_data_quality_per_source_and_department(tmp_path: Path) -> None:
    report = {"sources": [{
        "source": "admin_records", "read": 100, "accepted": 90, "quarantined": 10, "qualified_rate": 0.9,
        "uscc_wrong_rate": 0.02, "uscc_wrong_meets_target": False, "duplicate_rate": 0.0,
        "duplicate_meets_target": True,
        "departments": [
            {"department": "市场监管局", "read": 60, "accepted": 58, "quarantined": 2, "qualified_rate": 58 / 60},
            {"department": "税务局", "read": 40, "accepted": 32, "quarantined": 8, "qualified_rate": 0.8},
        ],
    }]}
    path = tmp_path / "quality.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    table = data_quality(path).set_index("department")
    assert list(table.index) == ["all", "市场监管局", "税务局"]
    assert set(table["source"]) == {"admin_records"}
    assert table.loc["all", "qualified_rate"] == 0.9
    assert table.loc["税务局", ["read", "accepted", "quarantined"]].tolist() == [40, 32, 8]


def test_data_quality_without_a_report(tmp_path: Path) -> None:
    with pytest.raises(MetricsUnavailable):
        data_quality(tmp_path / "missing.json")
