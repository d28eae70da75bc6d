"""The pre-credit assessment with the real model: unscorable checks, decision table, policy overrides, limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

from scoring.decision import DecisionPolicy, LimitPolicy
from scoring.facts import PolicyFacts, RevenueEvidence
from scoring.policy import load_rule_set
from scoring.precredit import PreCreditPolicy, UnscorableThresholds
from scoring.service import ScoreService
from scoring.types import PolicyRecord
from tests.utils.training_frames import make_training_frame

AS_OF = date(2024, 6, 30)
EVIDENCE = RevenueEvidence(sales_12m=6_000_000.0, tax_paid_12m=180_000.0, tax_months_12m=12, si_months_12m=12)
CLEAN = PolicyFacts((), EVIDENCE)
BLACK = PolicyRecord("list_entries", "black", date(2024, 1, 5), "拒不履行法定义务", "BL-1")
ABNORMAL = PolicyRecord("list_entries", "abnormal", date(2024, 2, 5), "未按时报送年报", "AB-1")


@pytest.fixture(scope="module")
def profiles(service: ScoreService) -> list[dict[str, float | None]]:
    frame = make_training_frame(n_enterprises=400, n_dates=1, seed=23)
    rows = [{n: (None if pd.isna(r[n]) else float(r[n])) for n in service.feature_names} for _, r in frame.iterrows()]
    return [{**row, "age_months": max(row["age_months"] or 0.0, 24.0)} for row in rows]


def first_with(service: ScoreService, profiles: list, grades: str) -> dict[str, float | None]:
    for profile in profiles:
        if service.score("x", profile, AS_OF).grade in grades:
            return profile
    raise AssertionError(f"no test profile graded {grades}")


def test_a_clean_scorable_enterprise_gets_decision_limit_and_version(
    service: ScoreService, policy: PreCreditPolicy, profiles: list
) -> None:
    profile = first_with(service, profiles, "ABC")
    plain = service.score("x", profile, AS_OF)
    result = policy.assess(service, "x", profile, AS_OF, CLEAN)

    assert (result.score, result.grade, result.reasons_lowering) == (plain.score, plain.grade, plain.reasons_lowering)
    assert result.decision == "approve"
    assert result.rule_set_version == "policy-v1"
    assert result.policy_hits == () and result.insufficient_data == ()
    assert result.pre_credit_limit == LimitPolicy().limit(6_000_000, 180_000, plain.probability_of_default, "approve")
    assert plain.decision is None and plain.rule_set_version is None  # ScoreService.score stays the model's output


def test_the_model_grade_sets_the_decision(service: ScoreService, policy: PreCreditPolicy, profiles: list) -> None:
    for profile in profiles[:30]:
        result = policy.assess(service, "x", profile, AS_OF, CLEAN)
        assert result.decision == DecisionPolicy().for_grade(str(result.grade))


def test_a_black_listed_enterprise_is_declined_whatever_the_model_says(
    service: ScoreService, policy: PreCreditPolicy, profiles: list
) -> None:
    profile = first_with(service, profiles, "ABC")  # grades the model alone would approve
    result = policy.assess(service, "x", profile, AS_OF, replace(CLEAN, records=(BLACK,)), requested_amount=1e5)

    assert result.grade in ("A", "B", "C") and result.decision == "decline"
    assert result.pre_credit_limit is not None and result.pre_credit_limit.amount == 0
    (hit,) = result.policy_hits
    assert (hit.rule_id, hit.rule_version, hit.record) == ("serious_dishonesty_list", "policy-v1", BLACK)


def test_an_abnormal_list_entry_turns_approve_into_refer(
    service: ScoreService, policy: PreCreditPolicy, profiles: list
) -> None:
    profile = first_with(service, profiles, "ABC")
    result = policy.assess(service, "x", profile, AS_OF, replace(CLEAN, records=(ABNORMAL,)))
    assert result.decision == "refer"
    assert [h.rule_id for h in result.policy_hits] == ["abnormal_operations_list"]
    assert result.pre_credit_limit is not None and result.pre_credit_limit.amount > 0  # refer keeps a suggestion


def test_a_refer_rule_never_softens_a_decline(service: ScoreService, profiles: list) -> None:
    everything_declined = PreCreditPolicy(load_rule_set(), DecisionPolicy("A", "A"))
    profile = first_with(service, profiles, "BCDE")
    result = everything_declined.assess(service, "x", profile, AS_OF, replace(CLEAN, records=(ABNORMAL,)))
    assert result.decision == "decline"


def test_a_young_enterprise_is_unscorable_and_says_so(
    service: ScoreService, policy: PreCreditPolicy, profiles: list
) -> None:
    result = policy.assess(service, "x", {**profiles[0], "age_months": 4.2}, AS_OF, CLEAN)
    assert (result.probability_of_default, result.score, result.grade) == (None, None, None)
    assert result.reasons_lowering == () and result.pre_credit_limit is None
    assert [m.code for m in result.insufficient_data] == ["registered_too_recently"]
    (young,) = result.insufficient_data
    assert "fewer than 6" in young.text_en and "不足 6 个月" in young.text_zh
    assert (result.decision, result.rule_set_version) == ("refer", "policy-v1")


def test_no_tax_and_no_social_insurance_is_unscorable(
    service: ScoreService, policy: PreCreditPolicy, profiles: list
) -> None:
    quiet = PolicyFacts((), RevenueEvidence(0.0, 0.0, 0, 0))
    result = policy.assess(service, "x", profiles[0], AS_OF, quiet)
    assert [m.code for m in result.insufficient_data] == ["tax_and_social_insurance"]
    assert result.score is None
    # one month of 社保 alone is enough data
    assert policy.assess(service, "x", profiles[0], AS_OF, PolicyFacts((), RevenueEvidence(0, 0, 0, 1))).score


def test_thresholds_are_configurable(service: ScoreService, profiles: list) -> None:
    strict = PreCreditPolicy(load_rule_set(), thresholds=UnscorableThresholds(min_age_months=36, min_record_months=6))
    result = strict.assess(service, "x", {**profiles[0], "age_months": 30.0}, AS_OF,
                           PolicyFacts((), RevenueEvidence(1e6, 1e4, 5, 5)))
    assert [m.code for m in result.insufficient_data] == ["registered_too_recently", "tax_and_social_insurance"]


def test_missing_facts_are_named_rather_than_assumed_clean(
    service: ScoreService, policy: PreCreditPolicy, profiles: list
) -> None:
    result = policy.assess(service, "x", profiles[0], AS_OF, None)
    assert [m.code for m in result.insufficient_data] == ["policy_facts"]
    assert result.decision == "refer" and result.score is None


def test_an_unscorable_black_listed_enterprise_is_still_declined(
    service: ScoreService, policy: PreCreditPolicy, profiles: list
) -> None:
    result = policy.assess(service, "x", {**profiles[0], "age_months": 2.0}, AS_OF, replace(CLEAN, records=(BLACK,)))
    assert result.decision == "decline" and result.score is None
    assert [h.rule_id for h in result.policy_hits] == ["serious_dishonesty_list"]
