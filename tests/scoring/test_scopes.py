"""Data scopes with the real model: a withheld source feeds neither the score, the rules, the limit nor the reasons."""

from __future__ import annotations

import random
from datetime import date

import pandas as pd
import pytest

from scoring.facts import PolicyFacts, RevenueEvidence
from scoring.precredit import PreCreditPolicy
from scoring.scopes import DATA_SCOPES, restrict_facts, withheld_features, withheld_scopes
from scoring.service import ScoreService
from scoring.types import PolicyRecord, ScoreResult
from tests.utils.training_frames import make_training_frame

AS_OF = date(2024, 6, 30)
EVIDENCE = RevenueEvidence(sales_12m=6_000_000.0, tax_paid_12m=180_000.0, tax_months_12m=12, si_months_12m=12)
GRADE_D = PolicyRecord("tax_credit_grade", "D", date(2024, 4, 20), None, "2023")
ABNORMAL = PolicyRecord("list_entries", "abnormal", date(2024, 2, 5), "未按时报送年报", "AB-1")
NO_TAX = ("social_insurance", "housing_fund", "utilities")


@pytest.fixture(scope="module")
def profiles(service: ScoreService) -> list[dict[str, float | None]]:
    frame = make_training_frame(n_enterprises=120, n_dates=1, seed=41)
    rows = [{n: (None if pd.isna(r[n]) else float(r[n])) for n in service.feature_names} for _, r in frame.iterrows()]
    return [{**row, "age_months": max(row["age_months"] or 0.0, 24.0)} for row in rows]


def _answer(result: ScoreResult) -> tuple:
    """Everything a bank receives, as one comparable value."""
    return (result.probability_of_default, result.score, result.grade, result.reasons_lowering,
            result.reasons_raising, result.decision, result.pre_credit_limit, result.policy_hits,
            result.insufficient_data, result.withheld_scopes)


def test_scopes_are_checked_and_no_choice_withholds_nothing() -> None:
    assert withheld_scopes(None) == frozenset()
    assert withheld_scopes(DATA_SCOPES) == frozenset()
    assert withheld_scopes(NO_TAX) == {"tax"}
    with pytest.raises(ValueError, match="gossip"):
        withheld_scopes(["tax", "gossip"])


def test_each_scope_covers_features_and_public_records_are_never_withheld() -> None:
    for scope in DATA_SCOPES:
        assert withheld_features([scope]), scope
    everything = withheld_features(DATA_SCOPES)
    assert "age_months" not in everything  # registration is public
    assert not any(name.startswith(("penalt", "list_", "judicial")) for name in everything)


def test_all_scopes_granted_is_the_unrestricted_answer(
    service: ScoreService, policy: PreCreditPolicy, profiles: list
) -> None:
    facts = PolicyFacts((ABNORMAL,), EVIDENCE)
    for profile in profiles[:20]:
        everything = policy.assess(service, "x", profile, AS_OF, facts, 300_000.0, granted_scopes=DATA_SCOPES)
        unchosen = policy.assess(service, "x", profile, AS_OF, facts, 300_000.0)
        assert _answer(everything) == _answer(unchosen)


def test_withheld_records_change_nothing_the_bank_receives(
    service: ScoreService, policy: PreCreditPolicy, profiles: list
) -> None:
    rng = random.Random(7)
    tax_features = withheld_features(["tax"])
    for profile in profiles[:40]:
        other = rng.choice(profiles)
        altered = {n: (other[n] if n in tax_features else v) for n, v in profile.items()}
        richer = PolicyFacts((ABNORMAL, GRADE_D), RevenueEvidence(9e7, 4e6, 12, 12))
        poorer = PolicyFacts((ABNORMAL,), RevenueEvidence(1e5, 1e3, 3, 12))

        first = policy.assess(service, "x", profile, AS_OF, richer, None, granted_scopes=NO_TAX)
        second = policy.assess(service, "x", altered, AS_OF, poorer, None, granted_scopes=NO_TAX)

        assert _answer(first) == _answer(second)
        assert first.withheld_scopes == ("tax",)


def test_no_reason_cites_a_withheld_source(service: ScoreService, policy: PreCreditPolicy, profiles: list) -> None:
    facts = PolicyFacts((), EVIDENCE)
    for withheld in ("tax", "social_insurance", "utilities"):
        hidden = withheld_features([withheld])
        granted = [s for s in DATA_SCOPES if s != withheld]
        cited = set()
        for profile in profiles[:30]:
            result = policy.assess(service, "x", profile, AS_OF, facts, None, granted_scopes=granted)
            cited |= {r.feature for r in (*result.reasons_lowering, *result.reasons_raising)}
        assert cited and not (cited & hidden), withheld


def test_a_withheld_tax_grade_fires_no_rule_and_tax_evidence_sizes_no_limit(
    service: ScoreService, policy: PreCreditPolicy, profiles: list
) -> None:
    facts = PolicyFacts((GRADE_D,), EVIDENCE)
    granted = policy.assess(service, "x", profiles[0], AS_OF, facts, None, granted_scopes=DATA_SCOPES)
    withheld = policy.assess(service, "x", profiles[0], AS_OF, facts, None, granted_scopes=NO_TAX)

    assert [h.rule_id for h in granted.policy_hits] == ["tax_credit_grade_d"]
    assert withheld.policy_hits == ()
    assert withheld.pre_credit_limit is not None and withheld.pre_credit_limit.sales_12m == 0.0
    assert restrict_facts(facts, {"tax"}) == PolicyFacts((), RevenueEvidence(0.0, 0.0, 0, 12))


def test_withholding_both_tax_and_social_insurance_leaves_the_enterprise_unscorable(
    service: ScoreService, policy: PreCreditPolicy, profiles: list
) -> None:
    result = policy.assess(service, "x", profiles[0], AS_OF, PolicyFacts((), EVIDENCE), None,
                           granted_scopes=["housing_fund", "utilities"])
    assert result.probability_of_default is None and result.decision == "refer"
    assert [m.code for m in result.insufficient_data] == ["tax_and_social_insurance"]
    assert result.withheld_scopes == ("social_insurance", "tax")
