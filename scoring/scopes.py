"""Data scopes (授权范围): which non-public sources an enterprise lets feed a bank's answer.

Tax, social insurance, housing fund and utility records are not public: an enterprise's grant names which of them
may feed a bank's score. Registration, administrative decisions (双公示), court and list entries and credit
commitments are public disclosures and always count. A source left out of the grant is withheld, not guessed: its
features are absent (scored as the model scores an enterprise with no such records), its policy records and
revenue evidence are dropped, and no reason cites it — so nothing the bank receives depends on a withheld record.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from functools import lru_cache

from features.catalogue import FEATURE_SPECS
from scoring.facts import PolicyFacts, RevenueEvidence
from scoring.types import ScoreResult

DATA_SCOPES: tuple[str, ...] = ("tax", "social_insurance", "housing_fund", "utilities")
"""The non-public source categories a grant may include; a grant without a choice includes all of them."""

SCOPE_OF_SOURCE: dict[str, str] = {
    "tax_monthly": "tax",
    "tax_credit_grade": "tax",
    "social_insurance_monthly": "social_insurance",
    "housing_fund_monthly": "housing_fund",
    "utilities_monthly": "utilities",
}
"""Catalogue source → data scope; sources not named here are public records that every answer may use."""


def withheld_scopes(granted: Collection[str] | None) -> frozenset[str]:
    """The data scopes a grant leaves out (none when ``granted`` is None: a grant made before scopes existed)."""
    if granted is None:
        return frozenset()
    unknown = set(granted) - set(DATA_SCOPES)
    if unknown:
        raise ValueError(f"unknown data scopes {sorted(unknown)}; known: {list(DATA_SCOPES)}")
    return frozenset(DATA_SCOPES) - frozenset(granted)


def withheld_features(withheld: Collection[str]) -> frozenset[str]:
    """Catalogue features computed from a withheld scope's sources (looked up once per set of scopes)."""
    return _features_of(frozenset(withheld))


@lru_cache(maxsize=32)
def _features_of(withheld: frozenset[str]) -> frozenset[str]:
    return frozenset(name for name, spec in FEATURE_SPECS.items() if SCOPE_OF_SOURCE.get(spec.source) in withheld)


def restrict_profile(profile: Mapping[str, float | None], withheld: Collection[str]) -> dict[str, float | None]:
    """The profile with every feature of a withheld scope absent (None)."""
    hidden = withheld_features(withheld)
    return {name: (None if name in hidden else value) for name, value in profile.items()}


def restrict_facts(facts: PolicyFacts | None, withheld: Collection[str]) -> PolicyFacts | None:
    """Policy facts without the records of withheld scopes; tax evidence (sales, tax paid, tax months) dropped when
    tax is withheld, social-insurance months when social insurance is."""
    if facts is None or not withheld:
        return facts
    records = tuple(r for r in facts.records if SCOPE_OF_SOURCE.get(r.source) not in withheld)
    e = facts.evidence
    if "tax" in withheld:
        e = RevenueEvidence(0.0, 0.0, 0, e.si_months_12m)
    if "social_insurance" in withheld:
        e = RevenueEvidence(e.sales_12m, e.tax_paid_12m, e.tax_months_12m, 0)
    return PolicyFacts(records, e)


def without_withheld_reasons(result: ScoreResult, withheld: Collection[str]) -> ScoreResult:
    """The result with no reason that cites a withheld scope's feature (an absent record explains nothing)."""
    hidden = withheld_features(withheld)
    if not hidden:
        return result
    return replace(
        result,
        reasons_lowering=tuple(r for r in result.reasons_lowering if r.feature not in hidden),
        reasons_raising=tuple(r for r in result.reasons_raising if r.feature not in hidden),
    )
