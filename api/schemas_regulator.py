"""Response bodies of the regulator and monitoring endpoints: one row model per table, each also served as CSV."""

from __future__ import annotations

from datetime import date
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, Field

Row = TypeVar("Row", bound=BaseModel)


class MetricTable(BaseModel, Generic[Row]):
    """A table of figures as of one date; ``?format=csv`` gives the same rows as CSV."""

    as_of: date = Field(description="The date the figures stand at (Beijing).")
    rows: list[Row]


class CoverageRow(BaseModel):
    """覆盖率: one coverage ratio against the seeds' target."""

    measure: Literal["enterprises_registered", "enterprises_authorised", "banks_connected"]
    numerator: int
    denominator: int
    rate: float | None = Field(description="numerator / denominator; null when the denominator is zero.")
    target: float
    target_rule: Literal[">", ">="]
    meets_target: bool | None
    denominator_source: str = Field(description="Where the denominator comes from: a setting or the register.")


class CreditLendingRow(BaseModel):
    """信用贷款: credit-loan disbursements and balance of one group in one month or year, with 年增速."""

    period: str = Field(description="YYYY-MM or YYYY.")
    group: str = Field(description="Bank code, region code, industry code, size class (微/小/中/大), or all.")
    loans_disbursed: int
    disbursed_amount: float = Field(description="Yuan disbursed as credit loans in the period.")
    borrowers: int
    first_time_borrowers: int = Field(description="首贷户: enterprises whose first loan on the platform this is.")
    balance: float = Field(description="Outstanding credit-loan balance at the period's end (yuan).")
    disbursed_yoy: float | None = Field(description="Growth of disbursements over the same period a year before.")
    balance_yoy: float | None = Field(description="信用贷款规模年增速: balance growth over a year before.")


class LoanReportQualityRow(BaseModel):
    """One bank's loan reports (回传): how soon and how completely it reports."""

    bank: str
    events: int
    median_lag_days: float | None
    p90_lag_days: float | None
    on_time_rate: float | None = Field(description="Share of events reported within the deadline (settings).")
    loans: int
    disbursed_loans: int
    due_follow_up: int = Field(description="Loans disbursed at least 60 days ago.")
    followed_up: int = Field(description="Of those, loans with a later repayment, overdue, default or closure.")
    follow_up_rate: float | None
    matured: int = Field(description="Loans whose term has ended.")
    resolved: int = Field(description="Of those, loans closed or in default.")
    resolution_rate: float | None


class DataQualityRow(BaseModel):
    """数据质量 of one source, for one providing department or all of them."""

    source: str
    department: str
    read: int | None
    accepted: int | None
    quarantined: int | None
    qualified_rate: float | None
    uscc_wrong_rate: float | None
    uscc_wrong_meets_target: bool | None
    duplicate_rate: float | None
    duplicate_meets_target: bool | None


class PolicyDeclineRow(BaseModel):
    """联合惩戒: how often one policy rule applied to scores given, and how many of those were declined."""

    rule_id: str
    rule_version: str | None
    action: str | None
    hits: int
    enterprises: int
    declines: int
    text_zh: str | None
    text_en: str | None


class MonitoringTable(MetricTable[Row], Generic[Row]):
    """A monitoring table of the loaded champion, with the baseline it is compared against."""

    model_version: str
    baseline_source: str = Field(description="Where the training score distribution comes from.")


class DriftRow(BaseModel):
    """Score drift of one month: PSI of its stored scores against the training baseline."""

    month: str
    scores: int
    psi: float
    band: Literal["stable", "watch", "act"] = Field(description="stable < 0.1 ≤ watch < 0.25 ≤ act.")


class GradeRow(BaseModel):
    """Realised default rate of one grade on matured loans; the ``all`` row carries the AUC."""

    grade: str
    scores: int
    defaults: int
    realised_default_rate: float
    mean_pd: float
    auc: float | None


class AlertRow(BaseModel):
    """告警: a monitored figure that crossed its band."""

    kind: Literal["score_drift", "discrimination"]
    subject: str = Field(description="The month (YYYY-MM) or the figure (auc).")
    value: float
    threshold: float
    severity: Literal["watch", "act"]
    message: str
