"""Canonical schemas of the public-credit sources (docs/data-sources.md), read by ``features.ingest``.

Each ``SourceSpec`` names a source's columns, what kind of value each holds, which are required, its natural
key, its event and availability dates, and its cross-field rules. Ingest turns these specs into vectorised
checks and the docs page is generated from them; nothing here touches data.

Records are versioned: a row whose natural key was already delivered, with a later availability date, is a
correction. The correction wins from its availability date on; the earlier version is kept as history, so
any later layer can see a source exactly as it stood on a past date.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ColumnKind(StrEnum):
    """What a raw cell holds, and so which format rules apply to it."""

    USCC = "uscc"  # 统一社会信用代码, GB 32100
    TEXT = "text"  # free text, kept as written
    DATE = "date"  # YYYY-MM-DD
    PERIOD = "period"  # YYYY-MM, typed as the first day of the month
    YEAR = "year"  # YYYY, typed as 1 January of the year
    NUMBER = "number"  # decimal number, any sign
    AMOUNT = "amount"  # decimal number that must not be negative (yuan, counts, quantities)
    CODE = "code"  # one of a fixed set of values, or matching a code pattern


@dataclass(frozen=True)
class Column:
    """One canonical column: kind, whether an empty cell is allowed, allowed codes, and its documentation."""

    name: str
    kind: ColumnKind
    required: bool = True
    allowed: tuple[str, ...] = ()
    pattern: str | None = None
    description: str = ""
    label_zh: str = ""
    unit: str = ""


@dataclass(frozen=True)
class DateOrder:
    """``later`` must not fall before ``earlier`` when both are present (an end before its start)."""

    earlier: str
    later: str


@dataclass(frozen=True)
class Conditional:
    """``column`` is required when ``when_column`` is one of ``when`` and must be empty otherwise.

    With ``required=False`` the column is only allowed (may be empty) under the condition, never outside it.
    """

    column: str
    when_column: str
    when: tuple[str, ...]
    required: bool = True


@dataclass(frozen=True)
class SourceSpec:
    """One source: columns in canonical order, natural key, event and availability dates, and rules."""

    name: str
    label_zh: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    event: str
    available: str
    provider: str
    date_orders: tuple[DateOrder, ...] = ()
    conditionals: tuple[Conditional, ...] = ()
    registered_uscc: bool = True
    description: str = ""

    @property
    def filename(self) -> str:
        """The default feed file when the manifest declares none: ``<name>.csv``, UTF-8, canonical columns."""
        return f"{self.name}.csv"

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names in canonical order."""
        return tuple(column.name for column in self.columns)

    @property
    def required_names(self) -> tuple[str, ...]:
        """Columns whose cell may never be empty."""
        return tuple(column.name for column in self.columns if column.required)

    def column(self, name: str) -> Column:
        """The column called ``name``; KeyError when the source has none."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")


def _uscc() -> Column:
    return Column("uscc", ColumnKind.USCC, description="unified social credit code (GB 32100)",
                  label_zh="统一社会信用代码")


def _amount(name: str, label_zh: str, unit: str = "yuan", description: str = "", required: bool = False) -> Column:
    return Column(name, ColumnKind.AMOUNT, required, description=description, label_zh=label_zh, unit=unit)


def _date(name: str, label_zh: str, description: str, required: bool = True) -> Column:
    return Column(name, ColumnKind.DATE, required, description=description, label_zh=label_zh, unit="date")


def _code(name: str, allowed: tuple[str, ...], label_zh: str, description: str, required: bool = True) -> Column:
    return Column(name, ColumnKind.CODE, required, allowed=allowed, description=description, label_zh=label_zh)


def _text(name: str, label_zh: str, description: str, required: bool = True) -> Column:
    return Column(name, ColumnKind.TEXT, required, description=description, label_zh=label_zh)


def _period() -> Column:
    return Column("period", ColumnKind.PERIOD, description="reporting month (YYYY-MM)", label_zh="所属期",
                  unit="month")


def _available_on(what: str = "the record") -> Column:
    return _date("available_on", "报送日期", f"day the platform received {what}; a later one for the same key is "
                 "a correction")


ENTERPRISE_TYPES = ("有限责任公司", "股份有限公司", "个人独资企业", "合伙企业", "个体工商户", "农民专业合作社")
SIZE_CLASSES = ("大", "中", "小", "微")
REGISTRATION_STATUSES = ("存续", "注销", "吊销")
TAX_CREDIT_GRADES = ("A", "B", "M", "C", "D")
UTILITY_KINDS = ("electricity", "water", "gas")
ADMIN_RECORD_KINDS = ("许可", "处罚", "强制", "确认", "裁决", "奖励", "监督检查")
PENALTY_SEVERITIES = ("轻微", "一般", "严重")
PENALTY_STATUSES = ("有效", "已修复", "已撤销")
JUDICIAL_KINDS = ("失信被执行人", "被执行人")
LIST_NAMES = ("black", "red", "focus", "abnormal")
COMMITMENT_KINDS = ("告知承诺", "信用修复承诺", "主动承诺", "行业自律承诺")
COMMITMENT_FULFILMENTS = ("kept", "broken", "pending")

# GB/T 4754-2017: the divisions (two digits) that belong to each section letter.
INDUSTRY_SECTIONS: dict[str, tuple[int, int]] = {
    "A": (1, 5), "B": (6, 12), "C": (13, 43), "D": (44, 46), "E": (47, 50), "F": (51, 52), "G": (53, 60),
    "H": (61, 62), "I": (63, 65), "J": (66, 69), "K": (70, 70), "L": (71, 72), "M": (73, 75), "N": (76, 79),
    "O": (80, 82), "P": (83, 83), "Q": (84, 85), "R": (86, 90), "S": (91, 96), "T": (97, 97),
}
INDUSTRY_PATTERN = "|".join(
    f"{section}(?:{'|'.join(f'{d:02d}' for d in range(lo, hi + 1))})" for section, (lo, hi) in INDUSTRY_SECTIONS.items()
)
# GB/T 2260: six digits whose first two are a province-level code.
REGION_PATTERN = r"(?:1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-5]|71|81|82)[0-9]{4}"

REGISTRATION = SourceSpec(
    name="registration",
    label_zh="工商登记",
    provider="市场监管部门",
    description="One row per enterprise; its accepted codes are the registry the other sources are checked "
                "against. A change of status arrives as a correction with a later available_on.",
    columns=(
        _uscc(),
        _text("name", "企业名称", "registered name"),
        _date("founded_on", "成立日期", "founding date"),
        Column("industry", ColumnKind.CODE, pattern=INDUSTRY_PATTERN, label_zh="行业",
               description="GB/T 4754-2017 section letter and a two-digit division of that section, e.g. C13"),
        Column("region_code", ColumnKind.CODE, pattern=REGION_PATTERN, label_zh="行政区划",
               description="GB/T 2260 six-digit region code with a valid province prefix"),
        _amount("registered_capital", "注册资本", required=True, description="registered capital"),
        _code("enterprise_type", ENTERPRISE_TYPES, "企业类型", "legal form"),
        _code("size_class", SIZE_CLASSES, "企业规模", "size class (大/中/小/微)"),
        _code("status", REGISTRATION_STATUSES, "登记状态", "registration status"),
        _date("status_on", "状态日期", "date of 注销 or 吊销; required for them, empty while 存续", required=False),
        _available_on(),
    ),
    key=("uscc",),
    event="founded_on",
    available="available_on",
    date_orders=(DateOrder("founded_on", "status_on"), DateOrder("founded_on", "available_on")),
    conditionals=(Conditional("status_on", "status", ("注销", "吊销")),),
    registered_uscc=False,
)

TAX_MONTHLY = SourceSpec(
    name="tax_monthly",
    label_zh="纳税申报",
    provider="税务部门",
    description="Monthly tax filings; a measure may be empty (not reported). An amended filing (更正申报) "
                "arrives as a correction with a later filed_on.",
    columns=(
        _uscc(),
        _period(),
        _amount("vat", "增值税", description="value-added tax paid"),
        _amount("cit", "企业所得税", description="corporate income tax paid (quarterly months)"),
        _amount("invoiced_sales", "开票销售额", description="invoiced sales"),
        _amount("overdue_tax", "欠税", description="tax overdue at month end"),
        _date("filed_on", "申报日期", "day the filing reached the platform (its availability date)"),
    ),
    key=("uscc", "period"),
    event="period",
    available="filed_on",
    date_orders=(DateOrder("period", "filed_on"),),
)

TAX_CREDIT_GRADE = SourceSpec(
    name="tax_credit_grade",
    label_zh="纳税信用等级",
    provider="税务部门",
    description="The yearly tax credit grade: A ≥ 90 points, B 70-89, M new or no revenue, C 40-69, D < 40.",
    columns=(
        _uscc(),
        Column("year", ColumnKind.YEAR, label_zh="评价年度", unit="year", description="year evaluated (YYYY)"),
        _code("grade", TAX_CREDIT_GRADES, "纳税信用级别", "A, B, M, C or D"),
        _date("evaluated_on", "评定日期", "day the grade was decided"),
        _available_on("the grade"),
    ),
    key=("uscc", "year"),
    event="evaluated_on",
    available="available_on",
    date_orders=(DateOrder("year", "evaluated_on"), DateOrder("evaluated_on", "available_on")),
)


def _monthly_contributions(name: str, label_zh: str, provider: str, headcount: str, headcount_zh: str,
                           description: str) -> SourceSpec:
    return SourceSpec(
        name=name,
        label_zh=label_zh,
        provider=provider,
        description=description,
        columns=(
            _uscc(),
            _period(),
            _amount(headcount, headcount_zh, unit="people", description="people covered in the month"),
            _amount("contribution_due", "应缴金额", description="contributions due for the month"),
            _amount("contribution_paid", "实缴金额", description="contributions paid for the month"),
            _amount("arrears", "欠缴金额", description="unpaid contributions outstanding at month end"),
            _available_on(),
        ),
        key=("uscc", "period"),
        event="period",
        available="available_on",
        date_orders=(DateOrder("period", "available_on"),),
    )


SOCIAL_INSURANCE_MONTHLY = _monthly_contributions(
    "social_insurance_monthly", "社会保险", "人力资源和社会保障部门", "insured_headcount", "参保人数",
    "Monthly insured headcount, contributions due and paid, and arrears (社保).")

HOUSING_FUND_MONTHLY = _monthly_contributions(
    "housing_fund_monthly", "住房公积金", "住房公积金管理中心", "contributors", "缴存人数",
    "Monthly housing-fund contributors, contributions due and paid, and arrears (公积金).")

UTILITIES_MONTHLY = SourceSpec(
    name="utilities_monthly",
    label_zh="水电气",
    provider="公用事业单位",
    description="Monthly utility use, billing and late payment, one row per kind.",
    columns=(
        _uscc(),
        _period(),
        _code("kind", UTILITY_KINDS, "类别", "electricity, water or gas"),
        _amount("quantity", "用量", unit="kWh or m³", description="kWh for electricity, m³ for water and gas"),
        _amount("amount_billed", "应缴费用", description="amount billed"),
        _amount("amount_paid", "实缴费用", description="amount paid"),
        _amount("days_late", "逾期天数", unit="days", description="days the payment was late"),
        _available_on(),
    ),
    key=("uscc", "period", "kind"),
    event="period",
    available="available_on",
    date_orders=(DateOrder("period", "available_on"),),
)

ADMIN_RECORDS = SourceSpec(
    name="admin_records",
    label_zh="行政管理信息",
    provider="行政机关",
    description="双公示 and the 7 类行政管理信息. A repair or revocation of a penalty arrives as a correction "
                "with a later available_on. published_on empty = not (yet) published.",
    columns=(
        _text("record_id", "决定文书号", "the issuing department's record number"),
        _uscc(),
        _code("kind", ADMIN_RECORD_KINDS, "类别", "许可 处罚 强制 确认 裁决 奖励 监督检查"),
        _date("decision_date", "决定日期", "date of the decision (event date)"),
        _date("published_on", "公示日期", "date published (双公示: due within 7 working days)", required=False),
        _text("department", "决定机关", "issuing department"),
        _code("severity", PENALTY_SEVERITIES, "处罚等级", "轻微, 一般 or 严重; 处罚 only", required=False),
        _amount("amount", "罚款金额", description="fine; 处罚 only"),
        _code("status", PENALTY_STATUSES, "处罚状态", "有效, 已修复 or 已撤销; 处罚 only", required=False),
        _date("repaired_on", "修复日期", "信用修复 date; required when status is 已修复", required=False),
        _available_on(),
    ),
    key=("record_id",),
    event="decision_date",
    available="available_on",
    date_orders=(
        DateOrder("decision_date", "published_on"),
        DateOrder("decision_date", "repaired_on"),
        DateOrder("decision_date", "available_on"),
    ),
    conditionals=(
        Conditional("severity", "kind", ("处罚",)),
        Conditional("status", "kind", ("处罚",)),
        Conditional("amount", "kind", ("处罚",), required=False),
        Conditional("repaired_on", "status", ("已修复",)),
    ),
)

JUDICIAL = SourceSpec(
    name="judicial",
    label_zh="司法信息",
    provider="人民法院",
    description="失信被执行人 entries and 被执行人 cases. A removal arrives as a correction carrying removed_on.",
    columns=(
        _text("case_id", "案号", "court case number"),
        _uscc(),
        _code("kind", JUDICIAL_KINDS, "类别", "失信被执行人 or 被执行人"),
        _text("court", "执行法院", "enforcing court", required=False),
        _date("listed_on", "立案/列入日期", "date listed or the case filed (event date)"),
        _date("removed_on", "移除/结案日期", "date removed or closed; empty while open", required=False),
        _amount("amount", "执行标的", description="amount to be performed"),
        _available_on(),
    ),
    key=("case_id",),
    event="listed_on",
    available="available_on",
    date_orders=(DateOrder("listed_on", "removed_on"), DateOrder("listed_on", "available_on")),
)

LIST_ENTRIES = SourceSpec(
    name="list_entries",
    label_zh="名单信息",
    provider="信用主管部门",
    description="black (严重失信主体名单), red (红名单), focus (重点关注名单) and abnormal (经营异常名录) entries. "
                "An exit arrives as a correction carrying exited_on.",
    columns=(
        _text("entry_id", "名单编号", "entry number"),
        _uscc(),
        _code("list_name", LIST_NAMES, "名单", "black, red, focus or abnormal"),
        _date("entered_on", "列入日期", "date entered (event date)"),
        _date("exited_on", "移出日期", "date removed; empty while on the list", required=False),
        _text("reason", "列入原因", "reason given", required=False),
        _text("department", "认定部门", "department that listed it", required=False),
        _available_on(),
    ),
    key=("entry_id",),
    event="entered_on",
    available="available_on",
    date_orders=(DateOrder("entered_on", "exited_on"), DateOrder("entered_on", "available_on")),
)

COMMITMENTS = SourceSpec(
    name="commitments",
    label_zh="信用承诺",
    provider="信用主管部门",
    description="Credit commitments (信用承诺) and whether they were kept (践诺); the outcome arrives as a "
                "correction of the pending commitment.",
    columns=(
        _text("commitment_id", "承诺编号", "commitment number"),
        _uscc(),
        _code("kind", COMMITMENT_KINDS, "承诺类型", "告知承诺, 信用修复承诺, 主动承诺 or 行业自律承诺"),
        _date("committed_on", "承诺日期", "date the commitment was made (event date)"),
        _code("fulfilment", COMMITMENT_FULFILMENTS, "践诺情况", "kept, broken or pending"),
        _date("resolved_on", "践诺认定日期", "date kept or broken was decided; empty while pending",
              required=False),
        _text("department", "受理部门", "department that accepted the commitment", required=False),
        _available_on(),
    ),
    key=("commitment_id",),
    event="committed_on",
    available="available_on",
    date_orders=(DateOrder("committed_on", "resolved_on"), DateOrder("committed_on", "available_on")),
    conditionals=(Conditional("resolved_on", "fulfilment", ("kept", "broken")),),
)

# Registration comes first: its accepted codes are the registry for ``uscc.unregistered``.
SOURCES: tuple[SourceSpec, ...] = (
    REGISTRATION,
    TAX_MONTHLY,
    TAX_CREDIT_GRADE,
    SOCIAL_INSURANCE_MONTHLY,
    HOUSING_FUND_MONTHLY,
    UTILITIES_MONTHLY,
    ADMIN_RECORDS,
    JUDICIAL,
    LIST_ENTRIES,
    COMMITMENTS,
)
SOURCES_BY_NAME: dict[str, SourceSpec] = {spec.name: spec for spec in SOURCES}

# The order in which a row's rules are checked; a rejected row carries the first that fails.
RULE_ORDER: tuple[str, ...] = (
    "row.format",
    "required",
    "uscc.length",
    "uscc.charset",
    "uscc.department",
    "uscc.region",
    "uscc.check_character",
    "uscc.unregistered",
    "date.format",
    "period.format",
    "year.format",
    "number.format",
    "code.unknown",
    "amount.negative",
    "date.future",
    "date.order",
    "conditional.required",
    "conditional.not_applicable",
    "duplicate.conflict",
)
USCC_WRONG_RULES = ("uscc.length", "uscc.charset", "uscc.department", "uscc.region", "uscc.check_character")
