"""Improvement advice: re-scored with the real model, actionable features only, minimal, empty at the top."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pandas as pd
import pytest

from features.catalogue import FEATURE_SPECS
from models.artifact import PdModelArtifact, ScorecardScale
from scoring.advice import (
    ACTIONS,
    CLEARED_WITH,
    PARTS,
    AdviceSearch,
    AdviceStep,
    advise,
    at_or_past_safe,
    describe,
    safe_value,
)
from scoring.scale import GRADES, grade_for
from scoring.service import ScoreService
from tests.utils.training_frames import make_training_frame

NEVER_ADVISED = ("age_months", "industry_section_code", "industry_division_code", "region_province_code",
                 "size_class_code", "registered_capital_log", "enterprise_type_code")


@pytest.fixture(scope="module")
def service(artifact: PdModelArtifact) -> ScoreService:
    return ScoreService(artifact, "pre_credit_pd", "1")


@pytest.fixture(scope="module")
def search(service: ScoreService) -> AdviceSearch:
    return AdviceSearch(service)


@pytest.fixture(scope="module")
def profiles(service: ScoreService) -> list[dict[str, float | None]]:
    frame = make_training_frame(n_enterprises=40, n_dates=1, seed=29)
    return [{n: None if pd.isna(row[n]) else float(row[n]) for n in service.feature_names}
            for _, row in frame.iterrows()]


@pytest.fixture(scope="module")
def advised(search: AdviceSearch, profiles):
    return [(profile, search.advise(profile)) for profile in profiles]


def consequences() -> set[str]:
    """Features a step may change besides its own: followers, nested windows and totals."""
    followers = {f for follows in CLEARED_WITH.values() for f in follows}
    return followers | set(PARTS) | {p for parts in PARTS.values() for p in parts}


def test_every_actionable_feature_has_words_and_nothing_else_does():
    actionable = {name for name, spec in FEATURE_SPECS.items() if spec.actionable}
    assert set(ACTIONS) == actionable
    assert not set(NEVER_ADVISED) & actionable


def test_step_reads_as_action_feature_and_values():
    zh, en = describe("si_arrears_months_12m", 3.0, 0.0)
    assert zh == "清缴社保欠费: 近12个月社保欠缴月数 3 → 0"
    assert en == "clear social-insurance arrears: months of social-insurance arrears in the last 12 3 → 0"
    assert describe("si_paid_ratio_12m", 0.5, 1.0)[0] == "足额缴纳社保: 近12个月社保实缴比例 50% → 100%"


def test_claimed_scores_are_what_the_model_gives(service: ScoreService, search: AdviceSearch, advised):
    some_advice = [(p, a) for p, a in advised if a.steps]
    assert len(some_advice) >= 10
    for profile, advice in some_advice:
        assert advice.score == service.score("x", profile, pd.Timestamp("2024-06-30").date()).score
        for k in range(1, len(advice.steps) + 1):
            after = search.profile_after(profile, advice.steps[:k])
            rescored = service.score("x", after, pd.Timestamp("2024-06-30").date())
            assert (rescored.score, rescored.grade) == (advice.steps[k - 1].score, advice.steps[k - 1].grade)
        scores = [advice.score, *(step.score for step in advice.steps)]
        assert scores[-1] > scores[0]
        if advice.lifts_grade:
            assert GRADES.index(advice.steps[-1].grade) < GRADES.index(advice.grade)
            assert advice.target_grade == GRADES[GRADES.index(advice.grade) - 1]


def test_some_advice_lifts_the_grade(advised):
    assert any(advice.lifts_grade for _, advice in advised)


def test_only_actionable_features_move(search: AdviceSearch, advised):
    allowed = consequences()
    for profile, advice in advised:
        assert all(FEATURE_SPECS[step.feature].actionable for step in advice.steps)
        after = search.profile_after(profile, advice.steps)
        changed = {name for name in profile if not _same(profile[name], after[name])}
        assert changed <= {name for name in changed if FEATURE_SPECS[name].actionable} | allowed
        assert not changed & set(NEVER_ADVISED)


def test_a_feature_already_past_its_safe_value_is_not_advised(search: AdviceSearch, profiles):
    overpaid = [{**p, "si_paid_ratio_12m": 4.0, "hf_paid_ratio_12m": 2.0, "months_since_last_filing": 0.0}
                for p in profiles[:12]]
    for profile in overpaid:
        moved = {step.feature for step in search.advise(profile).steps}
        assert not moved & {"si_paid_ratio_12m", "hf_paid_ratio_12m", "months_since_last_filing"}
    spec = FEATURE_SPECS["si_paid_ratio_12m"]
    assert at_or_past_safe(spec, 4.0, 1.0) and at_or_past_safe(spec, 1.0, 1.0)
    assert not at_or_past_safe(spec, 0.5, 1.0)


def test_steps_move_toward_safety_and_each_is_needed(search: AdviceSearch, advised):
    for profile, advice in advised:
        for step in advice.steps:
            riskier = FEATURE_SPECS[step.feature].higher_is_riskier
            assert step.to_value < step.from_value if riskier else step.to_value > step.from_value
        if advice.lifts_grade:
            target = GRADES.index(advice.target_grade)
            for left_out in range(len(advice.steps)):
                fewer = tuple(s for k, s in enumerate(advice.steps) if k != left_out)
                if fewer:
                    worse = search.profile_after(profile, fewer)
                    score = search.service.score("x", worse, pd.Timestamp("2024-06-30").date()).score
                    assert GRADES.index(grade_for(score)) > target


def test_deterministic(search: AdviceSearch, profiles):
    assert [search.advise(p) for p in profiles[:8]] == [search.advise(p) for p in profiles[:8]]


def test_at_most_max_steps(service: ScoreService, profiles):
    short = AdviceSearch(service, max_steps=1)
    assert all(len(short.advise(p).steps) <= 1 for p in profiles)
    with pytest.raises(ValueError):
        AdviceSearch(service, max_steps=0)


def test_arrears_and_a_court_listing_are_advised_first(service: ScoreService, profiles):
    clean = _cleanest(service, profiles[0])
    troubled = {**clean, "si_arrears_months_12m": 6.0, "si_arrears_months_6m": 6.0, "si_arrears_months_3m": 3.0,
                "enforcement_cases_active": 3.0}
    advice = advise(service, troubled, max_steps=6)
    assert advice.score < service.score("x", clean, pd.Timestamp("2024-06-30").date()).score
    assert {step.feature for step in advice.steps} & {"si_arrears_months_12m", "si_arrears_months_6m",
                                                      "si_arrears_months_3m", "enforcement_cases_active"}


def test_nested_windows_stay_consistent(search: AdviceSearch, profiles):
    profile = {**profiles[0], "si_arrears_months_12m": 5.0, "si_arrears_months_6m": 4.0,
               "si_arrears_months_3m": 3.0, "si_arrears_latest_log": 7.0}
    after = search.profile_after(profile, (_step("si_arrears_months_12m", 5.0, 1.0),))
    assert (after["si_arrears_months_12m"], after["si_arrears_months_6m"], after["si_arrears_months_3m"]) == (1, 1, 1)
    assert after["si_arrears_latest_log"] == 7.0  # one month still in arrears: its amount stays
    cleared = search.profile_after(profile, (_step("si_arrears_months_12m", 5.0, 0.0),))
    assert cleared["si_arrears_latest_log"] == 0.0


def test_a_repaired_penalty_leaves_the_total_and_its_fines(search: AdviceSearch, profiles):
    profile = {**profiles[0], "penalties_active": 2.0, "penalties_general_active": 1.0,
               "penalties_severe_active": 1.0, "penalties_12m": 2.0, "penalty_amount_active_log": 9.0,
               "months_since_last_penalty": 4.0}
    one = search.profile_after(profile, (_step("penalties_severe_active", 1.0, 0.0),))
    assert (one["penalties_active"], one["penalties_12m"], one["penalty_amount_active_log"]) == (1.0, 1.0, 9.0)
    both = search.profile_after(profile, (_step("penalties_severe_active", 1.0, 0.0),
                                          _step("penalties_general_active", 1.0, 0.0)))
    assert (both["penalties_active"], both["penalty_amount_active_log"]) == (0.0, 0.0)
    assert both["months_since_last_penalty"] is None  # no penalty in force


def test_no_advice_at_the_best_grade(artifact: PdModelArtifact, profiles):
    # The small test model tops out below 680, so lift the scale's anchor until its cleanest profile is an A.
    base = ScoreService(artifact, "pre_credit_pd", "1")
    clean = _cleanest(base, profiles[0])
    top = base.score("x", clean, pd.Timestamp("2024-06-30").date()).score
    lifted = replace(artifact, scale=ScorecardScale(anchor_points=600 + max(0, 700 - top)))
    service = ScoreService(lifted, "pre_credit_pd", "1")
    assert service.score("x", clean, pd.Timestamp("2024-06-30").date()).grade == "A"
    advice = advise(service, clean)
    assert (advice.grade, advice.target_grade, advice.steps, advice.lifts_grade) == ("A", None, (), False)


def _step(feature: str, before: float, after: float) -> AdviceStep:
    return AdviceStep(feature, before, after, 0, "", "", "")


def _cleanest(service: ScoreService, profile: dict[str, float | None]) -> dict[str, float | None]:
    """Every actionable feature at its safe value, through the search's own moves."""
    search = AdviceSearch(service)
    steps = []
    for name in search.movable_features:
        safe = safe_value(FEATURE_SPECS[name])
        if safe is not None and profile.get(name) is not None:
            steps.append(_step(name, float(profile[name]), safe))  # type: ignore[arg-type]
    return search.profile_after(profile, tuple(steps))


def _same(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and a == b)


def test_pairs_of_profiles_keep_their_order_under_advice(search: AdviceSearch, advised):
    # advice never makes a score worse than where the enterprise started
    for _, advice in advised:
        for a, b in itertools.pairwise([advice.score, *(s.score for s in advice.steps)]):
            assert b >= a
