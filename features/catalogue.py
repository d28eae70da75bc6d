"""The profile feature catalogue: every feature's meaning, unit and missing-value rule in one place.

Models see these names as float columns; scoring turns them into reasons with the labels below, so a loan
officer and the enterprise read the same words. Missing values are explicit: ``missing_means`` says what NaN
stands for (no records at all, not yet filed, no utility account), never a silent zero.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureSpec:
    """One profile feature (企业画像指标): source, words in Chinese and English, unit, missing meaning."""

    name: str
    source: str
    label_zh: str
    label_en: str
    unit: str
    missing_means: str
    higher_is_riskier: bool | None = None


_SPECS = (
    FeatureSpec(
        "age_months",
        "registration",
        "成立时长",
        "time since founding",
        "months",
        "never: every registered enterprise has a founding date",
        False,
    ),
    FeatureSpec(
        "registered_capital_log",
        "registration",
        "注册资本(对数)",
        "registered capital (log)",
        "ln(yuan)",
        "never",
        False,
    ),
    FeatureSpec(
        "size_class_code", "registration", "企业规模", "enterprise size class", "0 微 … 3 大", "never", False
    ),
    FeatureSpec(
        "sales_12m_log",
        "tax",
        "近12个月开票销售额(对数)",
        "invoiced sales over 12 months (log)",
        "ln(yuan)",
        "no tax filing available in the 12 months before the as-of date",
        False,
    ),
    FeatureSpec(
        "sales_growth_6m",
        "tax",
        "近6个月销售额同比前6个月变化",
        "sales change, last 6 vs prior 6 months",
        "ratio",
        "fewer than 12 months of filings, or no sales in the prior 6 months",
        False,
    ),
    FeatureSpec(
        "tax_filed_months_12m",
        "tax",
        "近12个月按期申报月数",
        "months with a tax filing in the last 12",
        "months",
        "never: 0 when nothing was filed",
        False,
    ),
    FeatureSpec(
        "tax_overdue_months_12m",
        "tax",
        "近12个月欠税月数",
        "months with overdue tax in the last 12",
        "months",
        "never: 0 when nothing was filed",
        True,
    ),
    FeatureSpec(
        "headcount_latest",
        "social_insurance",
        "最近参保人数",
        "latest insured headcount",
        "people",
        "no social-insurance record in the last 3 months",
        False,
    ),
    FeatureSpec(
        "headcount_change_6m",
        "social_insurance",
        "近6个月参保人数变化",
        "insured headcount change over 6 months",
        "ratio",
        "no social-insurance record 6 months earlier",
        False,
    ),
    FeatureSpec(
        "si_arrears_months_12m",
        "social_insurance",
        "近12个月社保欠缴月数",
        "months of social-insurance arrears in the last 12",
        "months",
        "never",
        True,
    ),
    FeatureSpec(
        "si_arrears_months_3m",
        "social_insurance",
        "近3个月社保欠缴月数",
        "months of social-insurance arrears in the last 3",
        "months",
        "never",
        True,
    ),
    FeatureSpec(
        "utility_late_months_3m",
        "utilities",
        "近3个月水电气逾期缴费月数",
        "months with a late utility payment in the last 3",
        "months",
        "never",
        True,
    ),
    FeatureSpec(
        "utility_late_months_12m",
        "utilities",
        "近12个月水电气逾期缴费月数",
        "months with a late utility payment in the last 12",
        "months",
        "never",
        True,
    ),
    FeatureSpec(
        "electricity_change_6m",
        "utilities",
        "近6个月用电量变化",
        "electricity use change over 6 months",
        "ratio",
        "no electricity account, or no use 6 months earlier",
        False,
    ),
    FeatureSpec(
        "penalties_active",
        "admin_records",
        "公示期内行政处罚次数",
        "administrative penalties still published",
        "count",
        "never",
        True,
    ),
    FeatureSpec(
        "penalty_severe_active",
        "admin_records",
        "公示期内严重行政处罚",
        "serious penalty still published",
        "0/1",
        "never",
        True,
    ),
    FeatureSpec(
        "licences_24m",
        "admin_records",
        "近24个月行政许可数",
        "licences granted in the last 24 months",
        "count",
        "never",
        False,
    ),
    FeatureSpec(
        "dishonest_debtor_active",
        "judicial",
        "失信被执行人",
        "listed as a dishonest judgement debtor",
        "0/1",
        "never",
        True,
    ),
    FeatureSpec(
        "enforcement_cases_active",
        "judicial",
        "在执行被执行案件数",
        "open enforcement cases as debtor",
        "count",
        "never",
        True,
    ),
    FeatureSpec(
        "abnormal_list_active",
        "list_entries",
        "列入经营异常名录",
        "on the abnormal-operations list",
        "0/1",
        "never",
        True,
    ),
    FeatureSpec(
        "black_list_active",
        "list_entries",
        "列入严重失信主体名单",
        "on the serious-dishonesty list",
        "0/1",
        "never",
        True,
    ),
    FeatureSpec(
        "red_list_active", "list_entries", "列入红名单", "on a red list (守信激励)", "0/1", "never", False
    ),
)

FEATURE_SPECS: dict[str, FeatureSpec] = {spec.name: spec for spec in _SPECS}
FEATURE_NAMES: tuple[str, ...] = tuple(FEATURE_SPECS)
