"""The pre-credit assessment: unscorable check, model score, decision table, policy rules (联合惩戒) and limit.

One ``PreCreditPolicy`` is built at start from the settings (its rules file validated then) and asked for each
enterprise with the scorer, the stored profile and the stored policy facts. The order:

1. too little data (registered under 6 months, no tax and no 社保 records, facts never computed) → no score,
   ``insufficient_data`` says what is missing, and the decision is refer (or a policy decline);
2. otherwise the model's score and grade give approve / refer / decline (``DecisionPolicy``);
3. policy rules can only make it stricter: a decline rule declines whatever the model says, a refer rule
   turns approve into refer;
4. the limit (``LimitPolicy``) from the revenue evidence and PD; zero on decline.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import date

from config.settings import Settings
from scoring.decision import DecisionPolicy, LimitPolicy, worse
from scoring.facts import PolicyFacts
from scoring.policy import RuleSet, load_rule_set
from scoring.scopes import restrict_facts, restrict_profile, withheld_scopes, without_withheld_reasons
from scoring.types import Decision, MissingData, PolicyHit, ScoreProvider, ScoreResult

AGE_FEATURE = "age_months"


@dataclass(frozen=True)
class UnscorableThresholds:
    """Below these an enterprise is not scored: months since registration, months with tax or 社保 records."""

    min_age_months: float = 6.0
    min_record_months: int = 1

    @classmethod
    def from_settings(cls, settings: Settings) -> UnscorableThresholds:
        """The thresholds configured for this deployment."""
        return cls(settings.unscorable_min_age_months, settings.unscorable_min_record_months)


def missing_data(
    profile: Mapping[str, float | None], facts: PolicyFacts | None, thresholds: UnscorableThresholds
) -> tuple[MissingData, ...]:
    """What keeps this enterprise from being scored (empty when it can be scored)."""
    missing: list[MissingData] = []
    age = profile.get(AGE_FEATURE)
    if age is None or not math.isfinite(age):
        missing.append(MissingData("registration", "无工商登记成立日期", "no registration founding date"))
    elif age < thresholds.min_age_months:
        missing.append(MissingData(
            "registered_too_recently",
            f"成立 {age:.0f} 个月，不足 {thresholds.min_age_months:g} 个月",
            f"registered {age:.0f} months ago, fewer than {thresholds.min_age_months:g}",
        ))
    if facts is None:
        missing.append(MissingData("policy_facts", "该画像未计算政策事实（名单、司法、纳税信用及收入证据）",
                                   "no policy facts (lists, judicial, tax grade, revenue evidence) for this profile"))
        return tuple(missing)
    e, least = facts.evidence, thresholds.min_record_months
    if e.tax_months_12m < least and e.si_months_12m < least:
        missing.append(MissingData(
            "tax_and_social_insurance",
            f"近12个月无纳税申报且无社保缴纳记录（各 {e.tax_months_12m}、{e.si_months_12m} 个月，至少需 {least} 个月）",
            f"neither tax filings nor social-insurance records in the last 12 months "
            f"({e.tax_months_12m} and {e.si_months_12m} months; at least {least} needed)",
        ))
    return tuple(missing)


def policy_decision(hits: tuple[PolicyHit, ...]) -> Decision | None:
    """The strictest action among the hits, or None when no rule applied."""
    decision: Decision | None = None
    for hit in hits:
        decision = hit.action if decision is None else worse(decision, hit.action)
    return decision


class PreCreditPolicy:
    """The bank's pre-credit policy: decision table, limit formula, unscorable thresholds and policy rules."""

    def __init__(
        self,
        rules: RuleSet,
        decisions: DecisionPolicy | None = None,
        limits: LimitPolicy | None = None,
        thresholds: UnscorableThresholds | None = None,
    ) -> None:
        self.rules = rules
        self.decisions = decisions or DecisionPolicy()
        self.limits = limits or LimitPolicy()
        self.thresholds = thresholds or UnscorableThresholds()

    @classmethod
    def from_settings(cls, settings: Settings) -> PreCreditPolicy:
        """The configured policy; a bad rules file raises ``RuleSetError`` here, at start."""
        return cls(
            load_rule_set(settings.policy_rules_path),
            DecisionPolicy.from_settings(settings),
            LimitPolicy.from_settings(settings),
            UnscorableThresholds.from_settings(settings),
        )

    @property
    def rule_set_version(self) -> str:
        """The version of the rules every result names."""
        return self.rules.version

    def assess(
        self,
        scorer: ScoreProvider,
        uscc: str,
        profile: Mapping[str, float | None],
        profile_as_of: date,
        facts: PolicyFacts | None,
        requested_amount: float | None = None,
        granted_scopes: Collection[str] | None = None,
    ) -> ScoreResult:
        """The pre-credit result for one enterprise: score (unless unscorable), decision, policy hits, limit.

        ``granted_scopes`` are the data scopes of the bank's grant (``scoring.scopes``; None: all): the records
        of a scope left out feed neither the score, the rules, the limit nor the reasons.
        """
        withheld = withheld_scopes(granted_scopes)
        if withheld:
            profile = restrict_profile(profile, withheld)
            facts = restrict_facts(facts, withheld)
        hits = self.rules.evaluate(facts.records) if facts is not None else ()
        by_policy = policy_decision(hits)
        missing = missing_data(profile, facts, self.thresholds)
        named = tuple(sorted(withheld))
        if missing:
            return ScoreResult(
                uscc, None, None, None, (), (), scorer.model_name, scorer.model_version, profile_as_of,
                decision=worse("refer", by_policy) if by_policy else "refer",
                policy_hits=hits, rule_set_version=self.rules.version, insufficient_data=missing,
                withheld_scopes=named,
            )
        scored = without_withheld_reasons(scorer.score(uscc, profile, profile_as_of), withheld)
        if scored.grade is None or scored.probability_of_default is None:
            raise ValueError(f"the scorer gave no grade or PD for {uscc}")
        decision = self.decisions.for_grade(scored.grade)
        if by_policy is not None:
            decision = worse(decision, by_policy)
        assert facts is not None  # missing_data reports absent facts
        limit = self.limits.limit(facts.evidence.sales_12m, facts.evidence.tax_paid_12m,
                                  scored.probability_of_default, decision, requested_amount)
        return replace(scored, decision=decision, pre_credit_limit=limit, policy_hits=hits,
                       rule_set_version=self.rules.version, withheld_scopes=named)
