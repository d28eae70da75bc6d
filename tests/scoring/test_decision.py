"""Grades as PD bands, the decision table, and the limit formula against figures worked by hand."""

from __future__ import annotations

import pytest

from config.settings import Settings
from scoring.decision import DecisionPolicy, LimitPolicy, grade_pd_bands, worse
from scoring.scale import Scorecard


def test_grade_pd_edges_on_the_default_scale() -> None:
    bands = {band.grade: band for band in grade_pd_bands()}
    # 600 points at 1:50, PDO 40: 680 → 1:200, 640 → 1:100, 600 → 1:50, 560 → 1:25
    assert bands["A"].pd_worst == pytest.approx(1 / 201)
    assert bands["B"].pd_worst == pytest.approx(1 / 101)
    assert bands["C"].pd_worst == pytest.approx(1 / 51)
    assert bands["D"].pd_worst == pytest.approx(1 / 26)
    assert bands["E"].pd_worst is None
    assert [band.lowest_score for band in grade_pd_bands()][:4] == [680, 640, 600, 560]


def test_grade_pd_edges_follow_the_scale() -> None:
    steeper = {band.grade: band for band in grade_pd_bands(Scorecard(anchor_points=600, anchor_odds=50, pdo=20))}
    assert steeper["A"].pd_worst == pytest.approx(1 / (50 * 2**4 + 1))  # 80 points = 4 doublings


@pytest.mark.parametrize(("grade", "decision"), [("A", "approve"), ("B", "approve"), ("C", "approve"),
                                                 ("D", "refer"), ("E", "decline")])
def test_default_decision_table(grade: str, decision: str) -> None:
    assert DecisionPolicy().for_grade(grade) == decision


def test_a_stricter_bank_moves_the_edges() -> None:
    policy = DecisionPolicy.from_settings(
        Settings(decision_approve_worst_grade="B", decision_refer_worst_grade="C"))
    assert [policy.for_grade(g) for g in "ABCDE"] == ["approve", "approve", "refer", "decline", "decline"]


def test_a_decision_table_with_approve_below_refer_is_refused() -> None:
    with pytest.raises(ValueError, match="approve_worst_grade"):
        DecisionPolicy("D", "B")
    with pytest.raises(ValueError, match="APPROVE_WORST_GRADE"):
        Settings(decision_approve_worst_grade="E", decision_refer_worst_grade="D")


def test_worse_is_the_stricter_decision() -> None:
    assert worse("approve", "refer") == "refer"
    assert worse("decline", "refer") == "decline"
    assert worse("approve", "approve") == "approve"


# Defaults: 20 % of sales, at most 8 × tax paid, × (1 − PD / 10 %), rounded down to 10,000, at most 3,000,000.
LIMITS = LimitPolicy()


def test_worked_example_sales_bind() -> None:
    # sales 6,000,000 → 1,200,000; tax 180,000 → 1,440,000; PD 2.3 % → × 0.77 = 924,000 → 920,000
    limit = LIMITS.limit(6_000_000, 180_000, 0.023, "approve")
    assert limit.amount == 920_000
    assert (limit.sales_base, limit.tax_base) == (pytest.approx(1_200_000), pytest.approx(1_440_000))
    assert limit.pd_factor == pytest.approx(0.77)
    assert limit.binding == "sales"


def test_the_worked_example_of_the_docs() -> None:
    # docs/scoring.md: 1,200,000 × 0.82 = 984,000 → 980,000; asked for 500,000 → 500,000
    assert LIMITS.limit(6_000_000, 180_000, 0.018, "approve").amount == 980_000
    assert LIMITS.limit(6_000_000, 180_000, 0.018, "approve", requested_amount=500_000).amount == 500_000
    assert Scorecard().score_from_pd(0.018) == 605 and DecisionPolicy().for_grade("C") == "approve"


def test_tax_paid_caps_the_base() -> None:
    # tax 100,000 → 800,000 < 1,200,000; × 0.77 = 616,000 → 610,000
    limit = LIMITS.limit(6_000_000, 100_000, 0.023, "refer")
    assert (limit.amount, limit.binding) == (610_000, "tax")


def test_the_maximum_caps_the_limit() -> None:
    # 10,000,000 × 0.77 = 7,700,000 → 3,000,000
    limit = LIMITS.limit(50_000_000, 2_000_000, 0.023, "approve")
    assert (limit.amount, limit.binding) == (3_000_000, "maximum")


def test_the_requested_amount_caps_the_limit_only_when_smaller() -> None:
    assert LIMITS.limit(6_000_000, 180_000, 0.023, "approve", requested_amount=500_000.0).amount == 500_000
    assert LIMITS.limit(6_000_000, 180_000, 0.023, "approve", requested_amount=500_000.0).binding == "requested"
    assert LIMITS.limit(6_000_000, 180_000, 0.023, "approve", requested_amount=2_000_000.0).amount == 920_000


def test_decline_and_a_pd_at_the_ceiling_give_zero() -> None:
    assert (LIMITS.limit(6_000_000, 180_000, 0.01, "decline").amount,
            LIMITS.limit(6_000_000, 180_000, 0.01, "decline").binding) == (0, "declined")
    assert (LIMITS.limit(6_000_000, 180_000, 0.12, "refer").amount,
            LIMITS.limit(6_000_000, 180_000, 0.12, "refer").binding) == (0, "pd")


def test_no_revenue_evidence_gives_zero() -> None:
    assert LIMITS.limit(0.0, 0.0, 0.01, "approve").amount == 0


def test_a_bank_policy_from_settings() -> None:
    policy = LimitPolicy.from_settings(Settings(limit_sales_share=0.3, limit_tax_multiple=5, limit_pd_ceiling=0.2,
                                                limit_rounding=50_000, limit_max=1_000_000))
    # sales 2,000,000 → 600,000; tax 100,000 → 500,000; PD 5 % → × 0.75 = 375,000 → 350,000
    assert (policy.limit(2_000_000, 100_000, 0.05, "approve").amount,
            policy.limit(2_000_000, 100_000, 0.05, "approve").binding) == (350_000, "tax")


@pytest.mark.parametrize(
    ("args", "message"),
    [((-1.0, 0.0, 0.01, "approve"), "must not be negative"), ((1.0, 1.0, 1.5, "approve"), r"\[0, 1\]")],
)
def test_bad_inputs_are_refused(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LIMITS.limit(*args)


def test_a_bad_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="sales_share"):
        LimitPolicy(sales_share=1.5)
