"""Declarative specs of the seven raw source files (docs/raw-files.md), read by ``features.ingest``.

Each ``SourceSpec`` names a file's columns, what kind of value each holds, which are required, the key that
must be unique, and the cross-field rules. The ingest turns these specs into vectorised checks; nothing here
touches data.
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
    NUMBER = "number"  # decimal number, any sign
    AMOUNT = "amount"  # decimal number that must not be negative (yuan, counts, quantities)
    CODE = "code"  # one of a fixed set of values, or matching a code pattern


@dataclass(frozen=True)
class Column:
    """One raw column: its kind, whether an empty cell is allowed, and for codes the values it may take."""

    name: str
    kind: ColumnKind
    required: bool = True
    allowed: tuple[str, ...] = ()
    pattern: str | None = None
    description: str = ""


@dataclass(frozen=True)
class DateOrder:
    """``later`` must not fall before ``earlier`` when both are present (an end before its start)."""

    earlier: str
    later: str


@dataclass(frozen=True)
class SeverityRule:
    """处罚 grading: ``severity`` is required when ``kind`` is one of ``applies_to``, and empty otherwise."""

    kind_column: str
    severity_column: str
    applies_to: tuple[str, ...]


@dataclass(frozen=True)
class SourceSpec:
    """One raw source file: name, file, columns in contract order, unique key and cross-field rules."""

    name: str
    filename: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    date_orders: tuple[DateOrder, ...] = ()
    severity: SeverityRule | None = None
    registered_uscc: bool = True
    description: str = ""

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names in contract order."""
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column:
        """The column called ``name``; KeyError when the source has none."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")


def _uscc(required: bool = True) -> Column:
    return Column("uscc", ColumnKind.USCC, required, description="统一社会信用代码")


def _amount(name: str, required: bool = False, description: str = "") -> Column:
    return Column(name, ColumnKind.AMOUNT, required, description=description)


def _date(name: str, required: bool = True, description: str = "") -> Column:
    return Column(name, ColumnKind.DATE, required, description=description)


def _code(name: str, allowed: tuple[str, ...], required: bool = True, description: str = "") -> Column:
    return Column(name, ColumnKind.CODE, required, allowed=allowed, description=description)


_PERIOD = Column("period", ColumnKind.PERIOD, description="reporting month")

ENTERPRISE_TYPES = ("有限责任公司", "股份有限公司", "个人独资企业", "合伙企业", "个体工商户", "农民专业合作社")
SIZE_CLASSES = ("大", "中", "小", "微")
REGISTRATION_STATUSES = ("存续", "注销", "吊销")
UTILITY_KINDS = ("electricity", "water", "gas")
ADMIN_RECORD_KINDS = ("许可", "处罚", "强制", "确认", "裁决", "奖励", "监督检查")
PENALTY_SEVERITIES = ("轻微", "一般", "严重")
JUDICIAL_KINDS = ("失信被执行人", "被执行人")
LIST_NAMES = ("black", "red", "focus", "abnormal")

REGISTRATION = SourceSpec(
    name="registration",
    filename="registration.csv",
    description="工商登记: one row per enterprise; its accepted codes are the registry for other sources.",
    columns=(
        _uscc(),
        Column("name", ColumnKind.TEXT, description="企业名称"),
        _date("founded_on", description="成立日期"),
        Column("industry", ColumnKind.CODE, pattern=r"[A-T][0-9]{2}",
               description="GB/T 4754 section letter and two-digit division, e.g. C13"),
        Column("region_code", ColumnKind.CODE, pattern=r"[0-9]{6}", description="GB/T 2260 six-digit region"),
        _amount("registered_capital", required=True, description="注册资本, yuan"),
        _code("enterprise_type", ENTERPRISE_TYPES, description="企业类型"),
        _code("size_class", SIZE_CLASSES, description="企业规模"),
        _code("status", REGISTRATION_STATUSES, description="登记状态"),
        _date("status_on", required=False, description="date of 注销/吊销; empty while 存续"),
        _date("available_on", description="day the platform received the record"),
    ),
    key=("uscc",),
    date_orders=(DateOrder("founded_on", "status_on"),),
    registered_uscc=False,
)

TAX_MONTHLY = SourceSpec(
    name="tax_monthly",
    filename="tax_monthly.csv",
    description="纳税: monthly tax filings; measures may be empty (not reported).",
    columns=(
        _uscc(),
        _PERIOD,
        _amount("vat", description="增值税, yuan"),
        _amount("cit", description="企业所得税, yuan"),
        _amount("invoiced_sales", description="开票销售额, yuan"),
        _amount("overdue_tax", description="欠税, yuan"),
        _date("filed_on", description="day the filing reached the platform"),
    ),
    key=("uscc", "period"),
)

SOCIAL_INSURANCE_MONTHLY = SourceSpec(
    name="social_insurance_monthly",
    filename="social_insurance_monthly.csv",
    description="社保: monthly insured headcount, contributions and arrears.",
    columns=(
        _uscc(),
        _PERIOD,
        _amount("insured_headcount", description="参保人数"),
        _amount("contribution_due", description="应缴, yuan"),
        _amount("contribution_paid", description="实缴, yuan"),
        _amount("arrears", description="欠缴 outstanding at month end, yuan"),
        _date("available_on"),
    ),
    key=("uscc", "period"),
)

UTILITIES_MONTHLY = SourceSpec(
    name="utilities_monthly",
    filename="utilities_monthly.csv",
    description="水电气: monthly utility use, billing and late payment per kind.",
    columns=(
        _uscc(),
        _PERIOD,
        _code("kind", UTILITY_KINDS),
        _amount("quantity", description="kWh for electricity, m³ for water and gas"),
        _amount("amount_billed", description="yuan"),
        _amount("amount_paid", description="yuan"),
        _amount("days_late", description="days the payment was late"),
        _date("available_on"),
    ),
    key=("uscc", "period", "kind"),
)

ADMIN_RECORDS = SourceSpec(
    name="admin_records",
    filename="admin_records.csv",
    description="双公示 and the 7 类行政管理信息: licences, penalties, enforcement, awards, inspections.",
    columns=(
        Column("record_id", ColumnKind.TEXT),
        _uscc(),
        _code("kind", ADMIN_RECORD_KINDS, description="许可 处罚 强制 确认 裁决 奖励 监督检查"),
        _date("decision_date", description="决定日期"),
        _date("published_on", description="公示日期"),
        Column("department", ColumnKind.TEXT, description="决定机关"),
        _code("severity", PENALTY_SEVERITIES, required=False, description="处罚 grade; empty otherwise"),
        _amount("amount", description="罚款 in yuan, 处罚 only"),
        _date("repaired_on", required=False, description="信用修复 date, 处罚 only"),
    ),
    key=("record_id",),
    date_orders=(DateOrder("decision_date", "published_on"), DateOrder("decision_date", "repaired_on")),
    severity=SeverityRule("kind", "severity", applies_to=("处罚",)),
)

JUDICIAL = SourceSpec(
    name="judicial",
    filename="judicial.csv",
    description="司法: 失信被执行人 and 被执行人 cases.",
    columns=(
        Column("case_id", ColumnKind.TEXT),
        _uscc(),
        _code("kind", JUDICIAL_KINDS),
        _date("listed_on"),
        _date("removed_on", required=False),
        _amount("amount", description="amount to be performed, yuan"),
    ),
    key=("case_id",),
    date_orders=(DateOrder("listed_on", "removed_on"),),
)

LIST_ENTRIES = SourceSpec(
    name="list_entries",
    filename="list_entries.csv",
    description="名单: black (严重失信), red (红名单), focus (重点关注) and abnormal (经营异常名录) entries.",
    columns=(
        Column("entry_id", ColumnKind.TEXT),
        _uscc(),
        _code("list_name", LIST_NAMES),
        _date("entered_on"),
        _date("exited_on", required=False),
        Column("reason", ColumnKind.TEXT, required=False),
    ),
    key=("entry_id",),
    date_orders=(DateOrder("entered_on", "exited_on"),),
)

# Registration comes first: its accepted codes are the registry for ``uscc.unregistered``.
SOURCES: tuple[SourceSpec, ...] = (
    REGISTRATION,
    TAX_MONTHLY,
    SOCIAL_INSURANCE_MONTHLY,
    UTILITIES_MONTHLY,
    ADMIN_RECORDS,
    JUDICIAL,
    LIST_ENTRIES,
)
SOURCES_BY_NAME: dict[str, SourceSpec] = {spec.name: spec for spec in SOURCES}

# The order in which a row's rules are checked; a rejected row carries the first that fails.
RULE_ORDER: tuple[str, ...] = (
    "required",
    "uscc.length",
    "uscc.charset",
    "uscc.department",
    "uscc.region",
    "uscc.check_character",
    "uscc.unregistered",
    "date.format",
    "period.format",
    "number.format",
    "code.unknown",
    "amount.negative",
    "date.future",
    "date.order",
    "severity.required",
    "severity.not_applicable",
    "duplicate.key",
)
