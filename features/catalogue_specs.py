"""The declarations of the profile catalogue, source by source (conventions: ``features.catalogue``).

``higher_is_riskier``: True (+) riskier when higher, False (−) safer when higher, None no stated direction.
``actionable``: the enterprise can change it by its own conduct (pay arrears, repair a penalty, pay on time);
improvement advice only ever suggests changes to these.
"""

from __future__ import annotations

from features.catalogue import FeatureSpec
from features.schemas import ENTERPRISE_TYPES, TAX_CREDIT_GRADES

_RISK = {"+": True, "-": False, "": None}


def _f(name: str, source: str, window: str, unit: str, risk: str, label: tuple[str, str], missing: str,
       reason: tuple[str, str], definition: str, actionable: bool = False,
       names: tuple[tuple[str, str], ...] = ()) -> FeatureSpec:
    return FeatureSpec(name, source, window, unit, _RISK[risk], label[0], label[1], missing, reason[0], reason[1],
                       definition, actionable, names)


_GRADES = tuple((grade, grade) for grade in TAX_CREDIT_GRADES)
_SIZES = (("微型", "micro"), ("小型", "small"), ("中型", "medium"), ("大型", "large"))
_TYPES = tuple(zip(ENTERPRISE_TYPES, ("limited liability company", "joint-stock company", "sole proprietorship",
                                      "partnership", "individual business", "farmers' cooperative"), strict=True))
_SECTIONS = (("", ""), *((chr(ord("A") + i), chr(ord("A") + i)) for i in range(20)))


_NEVER = "never: 0 when there are no such records"

REGISTRATION = (
    _f("age_months", "registration", "as of", "months", "-", ("成立时长", "time since founding"),
       "never: every registered enterprise has a founding date",
       ("成立{value}个月", "founded {value} months ago"),
       "(d − founded_on) in days / 30.4375."),
    _f("registered_capital_log", "registration", "as of", "ln(yuan)", "-", ("注册资本", "registered capital"),
       "never", ("注册资本{value}", "registered capital {value}"), "ln(1 + registered_capital)."),
    _f("size_class_code", "registration", "as of", "code", "-", ("企业规模", "enterprise size class"), "never",
       ("企业规模: {value}", "size class: {value}"),
       "size_class as 微 0, 小 1, 中 2, 大 3.", names=_SIZES),
    _f("industry_section_code", "registration", "as of", "code", "", ("行业门类", "industry section"), "never",
       ("行业门类{value}", "industry section {value}"),
       "GB/T 4754 section letter of industry as its position in the alphabet (A 1 … T 20).", names=_SECTIONS),
    _f("industry_division_code", "registration", "as of", "code", "", ("行业大类", "industry division"),
       "never", ("行业大类代码{value}", "industry division code {value}"),
       "the two-digit GB/T 4754 division after the section letter of industry."),
    _f("region_province_code", "registration", "as of", "code", "", ("所在省份", "province"), "never",
       ("省级行政区划代码{value}", "province code {value}"), "the first two digits of region_code (GB/T 2260)."),
    _f("enterprise_type_code", "registration", "as of", "code", "", ("企业类型", "legal form"), "never",
       ("企业类型: {value}", "legal form: {value}"),
       "enterprise_type as its position in schemas.ENTERPRISE_TYPES (有限责任公司 0 … 农民专业合作社 5).",
       names=_TYPES),
)

TAX = (
    _f("sales_12m_log", "tax_monthly", "12 months", "ln(yuan)", "-",
       ("近12个月开票销售额", "invoiced sales over 12 months"), "no tax filing in the last 12 months",
       ("近12个月开票销售额{value}", "invoiced sales of {value} over the last 12 months"),
       "ln(1 + sum of invoiced_sales over the last 12 months); NaN when none is reported in them."),
    _f("sales_yoy_growth", "tax_monthly", "24 months", "ratio", "-",
       ("开票销售额同比变化", "invoiced sales, year on year"), "no sales in months 12–23 back",
       ("开票销售额同比{value}", "invoiced sales {value} year on year"),
       "sum of invoiced_sales over the last 12 months / sum over months 12–23 back − 1; NaN when either "
       "window reports nothing (filings not yet arrived are not a fall) or the earlier sum is not positive."),
    _f("sales_growth_6m", "tax_monthly", "12 months", "ratio", "-",
       ("近6个月销售额较前6个月变化", "sales, last 6 months against the 6 before"),
       "no sales in months 6–11 back", ("近6个月销售额较前6个月{value}", "sales {value} against the prior 6 months"),
       "sum of invoiced_sales over the last 6 months / sum over months 6–11 back − 1; NaN when either "
       "window reports nothing or the earlier sum is not positive."),
    _f("sales_3m_log", "tax_monthly", "months 1–3 back", "ln(yuan)", "-",
       ("近3个月开票销售额", "invoiced sales over the last 3 months filed"), "no sales reported in months 1–3 back",
       ("近3个月开票销售额{value}", "invoiced sales of {value} over the last 3 months filed"),
       "ln(1 + sum of invoiced_sales over months 1–3 back); NaN when none is reported in them."),
    _f("sales_per_head_3m_log", "tax_monthly", "months 1–3 back", "ln(yuan)", "-",
       ("近3个月人均月开票销售额", "monthly sales per insured person, last 3 months"),
       "no sales reported in months 1–3 back, or no insured headcount",
       ("近3个月人均月开票销售额{value}", "monthly sales of {value} per insured person over the last 3 months"),
       "ln(1 + mean of the invoiced_sales reported in months 1–3 back / headcount_latest); NaN when either is "
       "missing or headcount_latest is 0."),
    _f("sales_volatility_12m", "tax_monthly", "12 months", "ratio", "+",
       ("月销售额波动", "volatility of monthly sales"), "fewer than 3 filings in the last 12 months",
       ("近12个月月销售额波动系数{value}", "monthly sales vary by {value} (coefficient of variation)"),
       "population standard deviation / mean of the invoiced_sales reported in the last 12 months; NaN "
       "with fewer than 3 reported or a mean that is not positive."),
    _f("zero_sales_months_12m", "tax_monthly", "12 months", "months", "+",
       ("近12个月零销售申报月数", "zero-sales filings in the last 12 months"), _NEVER,
       ("近12个月零销售申报{value}个月", "{value} months filed with zero sales in the last 12"),
       "filings in the last 12 months with invoiced_sales = 0."),
    _f("tax_filed_months_12m", "tax_monthly", "12 months", "months", "-",
       ("近12个月申报月数", "months with a tax filing in the last 12"), _NEVER,
       ("近12个月申报纳税{value}个月", "tax filed for {value} of the last 12 months"),
       "filings in the last 12 months.", True),
    _f("tax_paid_months_12m", "tax_monthly", "12 months", "months", "-",
       ("近12个月有纳税月数", "months with tax paid in the last 12"), _NEVER,
       ("近12个月有{value}个月缴纳税款", "tax paid in {value} of the last 12 months"),
       "filings in the last 12 months with vat + cit > 0 (a missing tax counts as 0 beside a reported one)."),
    _f("tax_paid_12m_log", "tax_monthly", "12 months", "ln(yuan)", "-",
       ("近12个月纳税额", "tax paid over 12 months"), "no tax filing in the last 12 months",
       ("近12个月纳税{value}", "tax of {value} paid over the last 12 months"),
       "ln(1 + sum of vat + cit over the last 12 months); NaN when neither is reported in them."),
    _f("tax_burden_12m", "tax_monthly", "12 months", "ratio", "-",
       ("近12个月税负率", "tax paid as a share of sales"), "no positive sales in the last 12 months",
       ("近12个月税负率{value}", "tax paid was {value} of sales"),
       "sum of vat + cit / sum of invoiced_sales over the last 12 months; NaN when either reports nothing or "
       "sales are not positive."),
    _f("tax_overdue_months_12m", "tax_monthly", "12 months", "months", "+",
       ("近12个月欠税月数", "months with overdue tax in the last 12"), _NEVER,
       ("近12个月有{value}个月欠税", "overdue tax in {value} of the last 12 months"),
       "filings in the last 12 months with overdue_tax > 0.", True),
    _f("tax_overdue_latest_log", "tax_monthly", "12 months", "ln(yuan)", "+",
       ("最近一期欠税金额", "overdue tax in the latest filing"), "no tax filing in the last 12 months",
       ("最近一期欠税{value}", "overdue tax of {value} in the latest filing"),
       "ln(1 + overdue_tax) of the latest filing in the last 12 months.", True),
    _f("months_since_last_filing", "tax_monthly", "all", "months", "+",
       ("距最近一次申报月数", "months since the latest tax filing"), "never filed",
       ("最近一次纳税申报在{value}个月前", "the latest tax filing was {value} months ago"),
       "d's month − the latest period filed, in months.", True),
    _f("tax_late_filings_12m", "tax_monthly", "12 months", "months", "+",
       ("近12个月逾期申报月数", "late tax filings in the last 12 months"), _NEVER,
       ("近12个月逾期申报{value}个月", "{value} tax filings late in the last 12 months"),
       "filings in the last 12 months first filed (the earliest version's filed_on, so a correction (更正申报) "
       "does not count) after the 15th of the month after their period.", True),
    _f("tax_overdue_months_36m", "tax_monthly", "36 months", "months", "+",
       ("近36个月欠税月数", "months with overdue tax in the last 36"), _NEVER,
       ("近36个月有{value}个月欠税", "overdue tax in {value} of the last 36 months"),
       "filings in the last 36 months with overdue_tax > 0 (a habit, not one bad month; not actionable: paying now "
       "leaves the months on record)."),
)

TAX_GRADE = (
    _f("tax_grade_code", "tax_credit_grade", "latest", "code", "+", ("纳税信用级别", "tax credit grade"),
       "never graded (new enterprises are graded after a full year)",
       ("最近纳税信用级别{value}级", "latest tax credit grade {value}"),
       "grade of the latest year held, as A 0, B 1, M 2, C 3, D 4.", names=_GRADES),
    _f("tax_grade_worst_3y", "tax_credit_grade", "3 years", "code", "+",
       ("近三年最差纳税信用级别", "worst tax credit grade in 3 years"), "no grade for the last three years",
       ("近三年最差纳税信用级别{value}级", "worst tax credit grade in 3 years: {value}"),
       "the highest grade code (A 0 … D 4) among grades held for years ≥ d's year − 3.", names=_GRADES),
    _f("tax_grade_a_years_3y", "tax_credit_grade", "3 years", "count", "-",
       ("近三年A级纳税人次数", "A tax grades in 3 years"), _NEVER,
       ("近三年{value}次评为A级纳税人", "graded A {value} times in 3 years"),
       "grades A held for years ≥ d's year − 3."),
)


def _contributions(prefix: str, source: str, zh: str, en: str) -> tuple[FeatureSpec, ...]:
    return (
        _f(f"{prefix}_months_12m", source, "12 months", "months", "-",
           (f"近12个月{zh}缴存月数", f"months of {en} records in the last 12"), _NEVER,
           (f"近12个月有{{value}}个月{zh}记录", f"{en} records for {{value}} of the last 12 months"),
           "records in the last 12 months."),
        _f(f"{prefix}_arrears_months_12m", source, "12 months", "months", "+",
           (f"近12个月{zh}欠缴月数", f"months of {en} arrears in the last 12"), _NEVER,
           (f"近12个月{zh}欠缴{{value}}个月", f"{{value}} months of {en} arrears in the last 12"),
           "records in the last 12 months with arrears > 0.", True),
        _f(f"{prefix}_arrears_months_36m", source, "36 months", "months", "+",
           (f"近36个月{zh}欠缴月数", f"months of {en} arrears in the last 36"), _NEVER,
           (f"近36个月{zh}欠缴{{value}}个月", f"{{value}} months of {en} arrears in the last 36"),
           "records in the last 36 months with arrears > 0 (not actionable: clearing them leaves the months on "
           "record)."),
        _f(f"{prefix}_paid_ratio_12m", source, "12 months", "ratio", "-",
           (f"近12个月{zh}实缴比例", f"share of {en} contributions paid"), f"no {en} contributions due",
           (f"近12个月{zh}实缴比例{{value}}", f"{{value}} of {en} contributions paid in the last 12 months"),
           "sum of contribution_paid / sum of contribution_due over the last 12 months; NaN when either "
           "reports nothing or nothing was due.", True),
    )


SOCIAL = (
    _f("headcount_latest", "social_insurance_monthly", "3 months", "people", "-",
       ("最近参保人数", "latest insured headcount"), "no social-insurance record in the last 3 months",
       ("最近参保人数{value}人", "{value} people insured"),
       "insured_headcount of the latest record in the last 3 months."),
    _f("headcount_change_6m", "social_insurance_monthly", "15 months", "ratio", "-",
       ("参保人数较6个月前变化", "insured headcount against 6 months earlier"),
       "no record, or no one insured, 6 months before the latest",
       ("参保人数较6个月前{value}", "insured headcount {value} against 6 months earlier"),
       "headcount_latest / insured_headcount of the record 6 months before that latest record's period − 1; "
       "NaN when that record is missing or zero."),
    _f("headcount_change_12m", "social_insurance_monthly", "15 months", "ratio", "-",
       ("参保人数较12个月前变化", "insured headcount against 12 months earlier"),
       "no record, or no one insured, 12 months before the latest",
       ("参保人数较12个月前{value}", "insured headcount {value} against a year earlier"),
       "as headcount_change_6m with the record 12 months before the latest."),
    _f("headcount_change_vs_mean_12m", "social_insurance_monthly", "12 months", "ratio", "-",
       ("参保人数较近12个月均值变化", "insured headcount against its 12-month mean"),
       "no insured headcount in the last 3 months, or none reported in the last 12",
       ("参保人数较近12个月均值{value}", "insured headcount {value} against its 12-month mean"),
       "headcount_latest / mean of the insured_headcount reported in the last 12 months − 1; NaN when either "
       "is missing or the mean is 0."),
    _f("headcount_change_vs_mean_36m", "social_insurance_monthly", "36 months", "ratio", "-",
       ("参保人数较近36个月均值变化", "insured headcount against its 36-month mean"),
       "no insured headcount in the last 3 months, or none reported in the last 36",
       ("参保人数较近36个月均值{value}", "insured headcount {value} against its 36-month mean"),
       "headcount_latest / mean of the insured_headcount reported in the last 36 months − 1; NaN when either "
       "is missing or the mean is 0 (a staff level below its own usual one)."),
    *_contributions("si", "social_insurance_monthly", "社保", "social-insurance"),
    _f("si_arrears_months_3m", "social_insurance_monthly", "3 months", "months", "+",
       ("近3个月社保欠缴月数", "months of social-insurance arrears in the last 3"), _NEVER,
       ("近3个月社保欠缴{value}个月", "{value} months of social-insurance arrears in the last 3"),
       "records in the last 3 months with arrears > 0.", True),
    _f("si_arrears_months_6m", "social_insurance_monthly", "6 months", "months", "+",
       ("近6个月社保欠缴月数", "months of social-insurance arrears in the last 6"), _NEVER,
       ("近6个月社保欠缴{value}个月", "{value} months of social-insurance arrears in the last 6"),
       "records in the last 6 months with arrears > 0.", True),
    _f("si_arrears_latest_log", "social_insurance_monthly", "12 months", "ln(yuan)", "+",
       ("最近一期社保欠缴金额", "social-insurance arrears in the latest month"),
       "no social-insurance record in the last 12 months",
       ("最近一期社保欠缴{value}", "social-insurance arrears of {value} in the latest month"),
       "ln(1 + arrears) of the latest record in the last 12 months.", True),
    _f("hf_contributors_latest", "housing_fund_monthly", "3 months", "people", "-",
       ("最近公积金缴存人数", "latest housing-fund contributors"), "no housing-fund record in the last 3 months",
       ("最近公积金缴存{value}人", "{value} people contributing to the housing fund"),
       "contributors of the latest housing-fund record in the last 3 months."),
    _f("hf_coverage_ratio", "housing_fund_monthly", "3 months", "ratio", "-",
       ("公积金覆盖率", "housing-fund coverage of insured staff"),
       "no housing-fund or social-insurance headcount in the last 3 months",
       ("公积金缴存人数占参保人数{value}", "housing fund covers {value} of insured staff"),
       "hf_contributors_latest / headcount_latest; NaN when either is missing or headcount_latest is 0."),
    *_contributions("hf", "housing_fund_monthly", "公积金", "housing-fund"),
)

UTILITIES = (
    _f("electricity_12m_log", "utilities_monthly", "12 months", "ln(kWh)", "-",
       ("近12个月用电量", "electricity used over 12 months"), "no electricity account billed in the last 12 months",
       ("近12个月用电{value}千瓦时", "{value} kWh of electricity over the last 12 months"),
       "ln(1 + sum of quantity of electricity records over the last 12 months); NaN when none is reported."),
    _f("electricity_3m_log", "utilities_monthly", "months 1–3 back", "ln(kWh)", "-",
       ("近3个月用电量", "electricity used over the last 3 months billed"),
       "no electricity reported in months 1–3 back",
       ("近3个月用电{value}千瓦时", "{value} kWh of electricity over the last 3 months billed"),
       "ln(1 + sum of electricity quantity over months 1–3 back); NaN when none is reported in them."),
    _f("electricity_per_head_3m_log", "utilities_monthly", "months 1–3 back", "ln(kWh)", "-",
       ("近3个月人均月用电量", "monthly electricity per insured person, last 3 months"),
       "no electricity reported in months 1–3 back, or no insured headcount",
       ("近3个月人均月用电{value}千瓦时", "{value} kWh a month per insured person over the last 3 months"),
       "ln(1 + mean of the electricity quantity reported in months 1–3 back / headcount_latest); NaN when "
       "either is missing or headcount_latest is 0 (电力大数据: use per employee tracks activity)."),
    _f("electricity_change_6m", "utilities_monthly", "10 months", "ratio", "-",
       ("近3个月用电量较半年前变化", "electricity use, last 3 months against 6 months earlier"),
       "no electricity use in months 7–9 back",
       ("近3个月用电量较半年前{value}", "electricity use {value} against six months earlier"),
       "sum of electricity quantity over months 1–3 back / sum over months 7–9 back − 1; NaN when either "
       "window reports nothing or the earlier sum is not positive."),
    _f("electricity_yoy_change", "utilities_monthly", "16 months", "ratio", "-",
       ("近3个月用电量同比变化", "electricity use, year on year"), "no electricity use in months 13–15 back",
       ("近3个月用电量同比{value}", "electricity use {value} year on year"),
       "sum of electricity quantity over months 1–3 back / sum over months 13–15 back − 1; NaN when either "
       "window reports nothing or the earlier sum is not positive."),
    _f("electricity_volatility_12m", "utilities_monthly", "12 months", "ratio", "+",
       ("月用电量波动", "volatility of monthly electricity use"), "fewer than 3 electricity bills in 12 months",
       ("近12个月月用电量波动系数{value}", "monthly electricity use varies by {value}"),
       "population standard deviation / mean of the electricity quantity reported in the last 12 months; "
       "NaN with fewer than 3 reported or a mean that is not positive."),
    _f("water_12m_log", "utilities_monthly", "12 months", "ln(m³)", "",
       ("近12个月用水量", "water used over 12 months"), "no water account billed in the last 12 months",
       ("近12个月用水{value}立方米", "{value} m³ of water over the last 12 months"),
       "ln(1 + sum of quantity of water records over the last 12 months); NaN when none is reported."),
    _f("water_per_head_12m_log", "utilities_monthly", "12 months", "ln(m³)", "-",
       ("近12个月人均月用水量", "monthly water per insured person, last 12 months"),
       "no water reported in the last 12 months, or no insured headcount",
       ("近12个月人均月用水{value}立方米", "{value} m³ of water a month per insured person over 12 months"),
       "ln(1 + mean of the water quantity reported in the last 12 months / headcount_latest); NaN when "
       "either is missing or headcount_latest is 0."),
    _f("electricity_per_head_36m_log", "utilities_monthly", "36 months", "ln(kWh)", "-",
       ("近36个月人均月用电量", "monthly electricity per insured person, last 36 months"),
       "no electricity or no insured headcount reported in the last 36 months",
       ("近36个月人均月用电{value}千瓦时", "{value} kWh a month per insured person over 36 months"),
       "ln(1 + mean of the electricity quantity reported in the last 36 months / mean of the insured_headcount "
       "reported in them); NaN when either is missing or the mean headcount is 0 (the usual level of activity)."),
    _f("water_per_head_36m_log", "utilities_monthly", "36 months", "ln(m³)", "-",
       ("近36个月人均月用水量", "monthly water per insured person, last 36 months"),
       "no water or no insured headcount reported in the last 36 months",
       ("近36个月人均月用水{value}立方米", "{value} m³ of water a month per insured person over 36 months"),
       "ln(1 + mean of the water quantity reported in the last 36 months / mean of the insured_headcount "
       "reported in them); NaN when either is missing or the mean headcount is 0."),
    _f("gas_12m_log", "utilities_monthly", "12 months", "ln(m³)", "-",
       ("近12个月用气量", "gas used over 12 months"), "no gas account billed in the last 12 months",
       ("近12个月用气{value}立方米", "{value} m³ of gas over the last 12 months"),
       "ln(1 + sum of quantity of gas records over the last 12 months); NaN when none is reported."),
    _f("gas_per_head_12m_log", "utilities_monthly", "12 months", "ln(m³)", "-",
       ("近12个月人均月用气量", "monthly gas per insured person, last 12 months"),
       "no gas reported in the last 12 months, or no insured headcount",
       ("近12个月人均月用气{value}立方米", "{value} m³ of gas a month per insured person over 12 months"),
       "ln(1 + mean of the gas quantity reported in the last 12 months / headcount_latest); NaN when either "
       "is missing or headcount_latest is 0."),
    _f("electricity_per_head_12m_log", "utilities_monthly", "12 months", "ln(kWh)", "-",
       ("近12个月人均月用电量", "monthly electricity per insured person, last 12 months"),
       "no electricity reported in the last 12 months, or no insured headcount",
       ("近12个月人均月用电{value}千瓦时", "{value} kWh a month per insured person over 12 months"),
       "ln(1 + mean of the electricity quantity reported in the last 12 months / headcount_latest); NaN "
       "when either is missing or headcount_latest is 0 (a year evens out one month's noise)."),
    _f("utility_kinds_12m", "utilities_monthly", "12 months", "count", "-",
       ("近12个月水电气账户种类", "utility kinds billed in the last 12 months"), _NEVER,
       ("近12个月有{value}类水电气缴费记录", "{value} kinds of utility billed in the last 12 months"),
       "distinct kinds among records in the last 12 months."),
    _f("utility_late_months_3m", "utilities_monthly", "3 months", "months", "+",
       ("近3个月水电气逾期缴费月数", "months with a late utility payment in the last 3"), _NEVER,
       ("近3个月水电气逾期缴费{value}个月", "utilities paid late in {value} of the last 3 months"),
       "distinct periods in the last 3 months with a record whose days_late > 0.", True),
    _f("utility_late_months_12m", "utilities_monthly", "12 months", "months", "+",
       ("近12个月水电气逾期缴费月数", "months with a late utility payment in the last 12"), _NEVER,
       ("近12个月水电气逾期缴费{value}个月", "utilities paid late in {value} of the last 12 months"),
       "distinct periods in the last 12 months with a record whose days_late > 0.", True),
    _f("utility_late_months_36m", "utilities_monthly", "36 months", "months", "+",
       ("近36个月水电气逾期缴费月数", "months with a late utility payment in the last 36"), _NEVER,
       ("近36个月水电气逾期缴费{value}个月", "utilities paid late in {value} of the last 36 months"),
       "distinct periods in the last 36 months with a record whose days_late > 0 (not actionable: a late month "
       "stays on record)."),
    _f("utility_days_late_max_12m", "utilities_monthly", "12 months", "days", "+",
       ("近12个月水电气最长逾期天数", "longest utility payment delay in 12 months"),
       "no utility record in the last 12 months",
       ("近12个月水电气最长逾期{value}天", "a utility bill paid up to {value} days late"),
       "largest days_late reported among records in the last 12 months.", True),
    _f("utility_paid_ratio_12m", "utilities_monthly", "12 months", "ratio", "-",
       ("近12个月水电气实缴比例", "share of utility bills paid"), "nothing billed in the last 12 months",
       ("近12个月水电气费用实缴比例{value}", "{value} of utility bills paid in the last 12 months"),
       "sum of amount_paid / sum of amount_billed over the last 12 months; NaN when either reports nothing "
       "or nothing was billed.", True),
)

ADMIN = (
    _f("penalties_active", "admin_records", "publication period", "count", "+",
       ("公示期内行政处罚次数", "administrative penalties still published"), _NEVER,
       ("公示期内行政处罚{value}次", "{value} administrative penalties still published"),
       "penalties in force (features.asof.counting_penalties).", True),
    _f("penalties_minor_active", "admin_records", "3 months", "count", "+",
       ("公示期内轻微行政处罚", "minor penalties still published"), _NEVER,
       ("公示期内轻微行政处罚{value}次", "{value} minor penalties still published"),
       "penalties in force with severity 轻微.", True),
    _f("penalties_general_active", "admin_records", "12 months", "count", "+",
       ("公示期内一般行政处罚", "ordinary penalties still published"), _NEVER,
       ("公示期内一般行政处罚{value}次", "{value} ordinary penalties still published"),
       "penalties in force with severity 一般 or no severity given.", True),
    _f("penalties_severe_active", "admin_records", "36 months", "count", "+",
       ("公示期内严重行政处罚", "serious penalties still published"), _NEVER,
       ("公示期内严重行政处罚{value}次", "{value} serious penalties still published"),
       "penalties in force with severity 严重.", True),
    _f("penalties_12m", "admin_records", "12 months", "count", "+",
       ("近12个月行政处罚次数", "penalties decided in the last 12 months"), _NEVER,
       ("近12个月受到行政处罚{value}次", "{value} penalties in the last 12 months"),
       "penalties in force decided after d − 12 months.", True),
    _f("penalty_amount_active_log", "admin_records", "publication period", "ln(yuan)", "+",
       ("公示期内罚款金额", "fines of penalties still published"), _NEVER,
       ("公示期内罚款合计{value}", "fines of {value} still published"),
       "ln(1 + sum of amount over penalties in force); 0 when none.", True),
    _f("months_since_last_penalty", "admin_records", "publication period", "months", "-",
       ("距最近一次处罚月数", "months since the latest penalty in force"), "no penalty in force",
       ("最近一次处罚在{value}个月前", "the latest penalty was {value} months ago"),
       "(d − the latest decision_date among penalties in force) in days / 30.4375."),
    _f("licences_24m", "admin_records", "24 months", "count", "-",
       ("近24个月行政许可数", "licences granted in the last 24 months"), _NEVER,
       ("近24个月获得行政许可{value}项", "{value} licences granted in the last 24 months"),
       "许可 records decided after d − 24 months."),
    _f("licences_total", "admin_records", "all", "count", "-", ("行政许可总数", "licences granted in all"),
       _NEVER, ("累计获得行政许可{value}项", "{value} licences granted in all"), "许可 records held."),
    _f("awards_36m", "admin_records", "36 months", "count", "-",
       ("近36个月行政奖励数", "awards in the last 36 months"), _NEVER,
       ("近36个月获得行政奖励{value}次", "{value} government awards in the last 36 months"),
       "奖励 records decided after d − 36 months."),
    _f("inspections_12m", "admin_records", "12 months", "count", "",
       ("近12个月监督检查次数", "inspections in the last 12 months"), _NEVER,
       ("近12个月接受监督检查{value}次", "{value} inspections in the last 12 months"),
       "监督检查 records decided after d − 12 months."),
    _f("coercive_measures_12m", "admin_records", "12 months", "count", "+",
       ("近12个月行政强制次数", "coercive measures in the last 12 months"), _NEVER,
       ("近12个月被采取行政强制{value}次", "{value} coercive measures in the last 12 months"),
       "强制 records decided after d − 12 months."),
)

JUDICIAL = (
    _f("dishonest_debtor_active", "judicial", "as of", "0/1", "+",
       ("失信被执行人", "listed as a dishonest judgement debtor"), _NEVER,
       ("当前为失信被执行人: {value}", "currently a dishonest judgement debtor: {value}"),
       "1 when a 失信被执行人 entry is open on d (listed, not yet removed).", True),
    _f("enforcement_cases_active", "judicial", "as of", "count", "+",
       ("在执行被执行案件数", "open enforcement cases as debtor"), _NEVER,
       ("当前有{value}件被执行案件", "{value} open enforcement cases"),
       "被执行人 cases open on d.", True),
    _f("enforcement_amount_active_log", "judicial", "as of", "ln(yuan)", "+",
       ("在执行标的金额", "amount under enforcement"), _NEVER,
       ("当前被执行标的合计{value}", "{value} under enforcement"),
       "ln(1 + sum of amount over judicial entries and cases open on d); 0 when none.", True),
)

LISTS = (
    _f("abnormal_list_active", "list_entries", "as of", "0/1", "+",
       ("列入经营异常名录", "on the abnormal-operations list"), _NEVER,
       ("当前列入经营异常名录: {value}", "currently on the abnormal-operations list: {value}"),
       "1 when an abnormal entry is open on d.", True),
    _f("abnormal_list_months", "list_entries", "as of", "months", "+",
       ("列入经营异常名录时长", "time on the abnormal-operations list"), "not on the list",
       ("已列入经营异常名录{value}个月", "on the abnormal-operations list for {value} months"),
       "(d − the earliest entered_on among abnormal entries open on d) in days / 30.4375.", True),
    _f("black_list_active", "list_entries", "as of", "0/1", "+",
       ("列入严重失信主体名单", "on the serious-dishonesty list"), _NEVER,
       ("当前列入严重失信主体名单: {value}", "currently on the serious-dishonesty list: {value}"),
       "1 when a black entry is open on d.", True),
    _f("focus_list_active", "list_entries", "as of", "0/1", "+",
       ("列入重点关注名单", "on a watch list (重点关注)"), _NEVER,
       ("当前列入重点关注名单: {value}", "currently on a watch list: {value}"),
       "1 when a focus entry is open on d.", True),
    _f("red_list_active", "list_entries", "as of", "0/1", "-", ("列入红名单", "on a red list (守信激励)"), _NEVER,
       ("当前列入红名单: {value}", "currently on a red list: {value}"), "1 when a red entry is open on d."),
)

COMMITMENTS = (
    _f("commitments_36m", "commitments", "36 months", "count", "",
       ("近36个月信用承诺数", "credit commitments made in 36 months"), _NEVER,
       ("近36个月作出信用承诺{value}项", "{value} credit commitments in the last 36 months"),
       "commitments held with committed_on after d − 36 months."),
    _f("commitments_kept_ratio", "commitments", "all", "ratio", "-",
       ("信用承诺践诺率", "share of commitments kept"), "no commitment decided kept or broken yet",
       ("信用承诺践诺率{value}", "{value} of credit commitments kept"),
       "kept / (kept + broken) among commitments held whose resolved_on is on or before d."),
    _f("commitments_broken_36m", "commitments", "36 months", "count", "+",
       ("近36个月违诺次数", "commitments broken in 36 months"), _NEVER,
       ("近36个月违背信用承诺{value}次", "{value} credit commitments broken in the last 36 months"),
       "commitments held that are broken with resolved_on after d − 36 months and on or before d.", True),
    _f("commitments_pending", "commitments", "as of", "count", "",
       ("待践诺承诺数", "commitments still pending"), _NEVER,
       ("有{value}项信用承诺待践诺", "{value} credit commitments pending"),
       "commitments held that are pending, or whose resolved_on is after d."),
)

SPECS: tuple[FeatureSpec, ...] = (
    *REGISTRATION, *TAX, *TAX_GRADE, *SOCIAL, *UTILITIES, *ADMIN, *JUDICIAL, *LISTS, *COMMITMENTS
)
