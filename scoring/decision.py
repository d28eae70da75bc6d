"""Decision and limit: grades as PD bands, approve / refer / decline by grade, and the pre-credit limit (预授信额度).

The bank's policy lives in the settings (``XINYI_DECISION_*``, ``XINYI_LIMIT_*``, docs/configuration.md); the
formula and a worked example are in docs/scoring.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from config.settings import Settings
from scoring.scale import GRADE_BANDS, GRADES, Scorecard
from scoring.types import DECISIONS, Decision, PreCreditLimit


@dataclass(frozen=True)
class GradeBand:
    """One grade as a band of score and of PD: ``pd_worst`` is the PD at its lowest score (None for the last)."""

    grade: str
    lowest_score: float
    pd_worst: float | None


def grade_pd_bands(scorecard: Scorecard | None = None) -> tuple[GradeBand, ...]:
    """The grades best first, with the PD each one's lowest score stands for on ``scorecard`` (default scale)."""
    scale = scorecard or Scorecard()
    return tuple(
        GradeBand(grade, lowest, None if math.isinf(lowest) else scale.pd_from_score(lowest))
        for grade, lowest in GRADE_BANDS
    )


def worse(first: Decision, second: Decision) -> Decision:
    """The stricter of two decisions (approve < refer < decline)."""
    return max(first, second, key=DECISIONS.index)


@dataclass(frozen=True)
class DecisionPolicy:
    """Approve down to ``approve_worst_grade``, refer down to ``refer_worst_grade``, decline the rest."""

    approve_worst_grade: str = "C"
    refer_worst_grade: str = "D"

    def __post_init__(self) -> None:
        for name in ("approve_worst_grade", "refer_worst_grade"):
            if getattr(self, name) not in GRADES:
                raise ValueError(f"{name} must be one of {', '.join(GRADES)}, not {getattr(self, name)!r}")
        if GRADES.index(self.approve_worst_grade) > GRADES.index(self.refer_worst_grade):
            raise ValueError("approve_worst_grade must not be worse than refer_worst_grade")

    @classmethod
    def from_settings(cls, settings: Settings) -> DecisionPolicy:
        """The decision table configured for this deployment."""
        return cls(settings.decision_approve_worst_grade, settings.decision_refer_worst_grade)

    def for_grade(self, grade: str) -> Decision:
        """The model's decision for a grade, before any policy rule."""
        if grade not in GRADES:
            raise ValueError(f"unknown grade {grade!r}; expected one of {', '.join(GRADES)}")
        rank = GRADES.index(grade)
        if rank <= GRADES.index(self.approve_worst_grade):
            return "approve"
        if rank <= GRADES.index(self.refer_worst_grade):
            return "refer"
        return "decline"


@dataclass(frozen=True)
class LimitPolicy:
    """预授信额度 = min(sales_share × sales, tax_multiple × tax paid) × (1 − PD / pd_ceiling), capped and rounded.

    Rounded down to ``rounding`` yuan after the cap at ``maximum``; zero on a decline; never above the amount
    the bank asked for, when it asked.
    """

    sales_share: float = 0.2
    tax_multiple: float = 8.0
    pd_ceiling: float = 0.10
    rounding: int = 10_000
    maximum: float = 3_000_000.0

    def __post_init__(self) -> None:
        if not (0 < self.sales_share <= 1 and self.tax_multiple > 0 and 0 < self.pd_ceiling <= 1):
            raise ValueError("limit policy needs 0 < sales_share ≤ 1, tax_multiple > 0 and 0 < pd_ceiling ≤ 1")
        if self.rounding < 1 or self.maximum <= 0:
            raise ValueError("limit policy needs rounding ≥ 1 and maximum > 0")

    @classmethod
    def from_settings(cls, settings: Settings) -> LimitPolicy:
        """The limit policy configured for this deployment."""
        return cls(settings.limit_sales_share, settings.limit_tax_multiple, settings.limit_pd_ceiling,
                   settings.limit_rounding, settings.limit_max)

    def limit(
        self,
        sales_12m: float,
        tax_paid_12m: float,
        probability_of_default: float,
        decision: Decision,
        requested_amount: float | None = None,
    ) -> PreCreditLimit:
        """The suggested limit in whole yuan, with the figures it came from and what bound it."""
        if sales_12m < 0 or tax_paid_12m < 0:
            raise ValueError("sales_12m and tax_paid_12m must not be negative")
        if not 0.0 <= probability_of_default <= 1.0:
            raise ValueError("probability_of_default must lie in [0, 1]")
        if requested_amount is not None and requested_amount <= 0:
            raise ValueError("requested_amount must be positive when given")
        sales_base, tax_base = self.sales_share * sales_12m, self.tax_multiple * tax_paid_12m
        pd_factor = max(0.0, 1.0 - probability_of_default / self.pd_ceiling)

        def made(amount: int, binding: str) -> PreCreditLimit:
            return PreCreditLimit(amount, sales_12m, tax_paid_12m, sales_base, tax_base, pd_factor, binding)

        if decision == "decline":
            return made(0, "declined")
        if pd_factor == 0.0:
            return made(0, "pd")
        binding = "sales" if sales_base <= tax_base else "tax"
        shrunk = min(sales_base, tax_base) * pd_factor
        if shrunk > self.maximum:
            shrunk, binding = self.maximum, "maximum"
        amount = math.floor(shrunk / self.rounding + 1e-9) * self.rounding
        if requested_amount is not None and requested_amount < amount:
            return made(math.floor(requested_amount), "requested")
        return made(amount, binding)
