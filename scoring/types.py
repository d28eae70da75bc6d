"""What a pre-credit score is made of: the result the API, CLI and notebooks all receive."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Protocol

Decision = Literal["approve", "refer", "decline"]
"""A pre-credit decision: approve, refer to a loan officer, or decline."""
DECISIONS: tuple[Decision, ...] = ("approve", "refer", "decline")
"""Best first: a policy rule can only move a decision to the right."""


@dataclass(frozen=True, init=False)
class Reason:
    """One feature's pull on the score, in score points, with words for the loan officer and enterprise."""

    feature: str
    points: float
    value: float | None
    text_zh: str
    text_en: str

    def __init__(self, feature: str, points: float, value: float | None, text_zh: str, text_en: str) -> None:
        # up to eight per scored profile: filling the instance dict directly costs a third of the generated
        # frozen __init__ (one object.__setattr__ call per field); still frozen, compared and hashed as before
        fields = self.__dict__
        fields["feature"], fields["points"], fields["value"] = feature, points, value
        fields["text_zh"], fields["text_en"] = text_zh, text_en


@dataclass(frozen=True)
class PolicyRecord:
    """One record in force that a policy rule may cite: a list entry, a judicial entry, a tax credit grade.

    ``record_key`` is the record's natural key in its source (名单编号, 案号, 评价年度).
    """

    source: str
    kind: str
    since: date
    reason: str | None
    record_key: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (the date as ISO text)."""
        return {"source": self.source, "kind": self.kind, "since": self.since.isoformat(),
                "reason": self.reason, "record_key": self.record_key}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PolicyRecord:
        """The record stored by :meth:`to_json`."""
        return cls(str(data["source"]), str(data["kind"]), date.fromisoformat(str(data["since"])),
                   None if data.get("reason") is None else str(data["reason"]), str(data["record_key"]))


@dataclass(frozen=True)
class PolicyHit:
    """A policy rule (联合惩戒) that applied, the record it cites and what it says, in Chinese and English."""

    rule_id: str
    rule_version: str
    action: Decision
    record: PolicyRecord
    text_zh: str
    text_en: str


@dataclass(frozen=True)
class MissingData:
    """Why an enterprise could not be scored: what is missing, in Chinese and English."""

    code: str
    text_zh: str
    text_en: str


@dataclass(frozen=True)
class PreCreditLimit:
    """预授信额度 in yuan, with the revenue evidence and policy figures it was computed from.

    ``binding`` names what set the amount: ``sales`` or ``tax`` (the smaller base), ``maximum``,
    ``requested``, ``pd`` (shrunk to zero) or ``declined``.
    """

    amount: int
    sales_12m: float
    tax_paid_12m: float
    sales_base: float
    tax_base: float
    pd_factor: float
    binding: str


@dataclass(frozen=True)
class ScoreResult:
    """PD, score and grade for one enterprise as of its profile date, with the reasons behind them.

    The model's own output (``ScoreService.score``) fills the first nine fields. A pre-credit assessment
    (``scoring.precredit``) adds the decision, limit, policy hits and rule-set version; an unscorable
    enterprise has no PD, score or grade, and ``insufficient_data`` says what is missing.
    """

    uscc: str
    probability_of_default: float | None
    score: int | None
    grade: str | None
    reasons_lowering: tuple[Reason, ...]
    reasons_raising: tuple[Reason, ...]
    model_name: str
    model_version: str
    profile_as_of: date
    decision: Decision | None = None
    pre_credit_limit: PreCreditLimit | None = None
    policy_hits: tuple[PolicyHit, ...] = ()
    rule_set_version: str | None = None
    insufficient_data: tuple[MissingData, ...] = ()
    withheld_scopes: tuple[str, ...] = ()
    """Data scopes the bank's grant left out (``scoring.scopes``): none of their records fed this result."""


class ScoreProvider(Protocol):
    """What the API needs of a scorer: implemented by ``scoring.service.ScoreService``."""

    model_name: str
    model_version: str

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Features the model reads from a profile, in order."""
        ...

    def score(self, uscc: str, profile: Mapping[str, float | None], profile_as_of: date) -> ScoreResult:
        """Score one enterprise from its stored profile (missing features may be None or absent)."""
        ...
