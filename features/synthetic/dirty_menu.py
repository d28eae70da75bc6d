"""What can go wrong in each source: one spoil per rule that applies, with the rows it can be applied to.

Each spoil changes one cell so that the row's first failing rule (in ``schemas.RULE_ORDER``) is its ``rule``:
a broken code keeps its other parts valid (department and region spoils get a recomputed check character), a
date put out of order stays a real date before the extraction, a value that is not applicable is otherwise
valid. ``copy`` spoils add a changed (or identical) copy of a row right after it instead of changing it;
``breaks_line`` ones leave the cells alone and have the writer cut the row's line short (``row.format``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from features.schemas import SourceSpec
from features.synthetic.sources_records import DEPARTMENTS
from features.uscc import ALPHABET, check_character, make_uscc

Row = dict[str, str]


@dataclass(frozen=True)
class Context:
    """What a spoil may draw on: the random stream, the extraction day and the registered codes."""

    rng: np.random.Generator
    extracted_on: date
    registered: frozenset[str]


Change = Callable[[Row, Context], Row]
Where = Callable[[pa.Table], np.ndarray]


@dataclass(frozen=True)
class Spoil:
    """A rule to break, the field the ingest reports (None: the key columns), the change and eligible rows."""

    rule: str
    field: str | None
    change: Change | None  # None: an exact copy
    where: Where | None = None
    copy: bool = False
    breaks_line: bool = False  # the writer truncates the row's line (CSV, JSON Lines)


def _mask(expression: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(expression, False).to_numpy(zero_copy_only=False), dtype=bool)


def is_(column: str, *values: str) -> Where:
    return lambda table: _mask(pc.is_in(table[column], value_set=pa.array(values, pa.string())))


def present(column: str) -> Where:
    return lambda table: _mask(pc.not_equal(table[column], ""))


def positive(column: str) -> Where:
    def where(table: pa.Table) -> np.ndarray:
        number = pc.cast(pc.if_else(pc.equal(table[column], ""), "0", table[column]), pa.float64())
        return _mask(pc.greater(number, 0))
    return where


def both(first: Where, second: Where) -> Where:
    return lambda table: first(table) & second(table)


def shift(day: str, by: int) -> str:
    """A YYYY-MM-DD cell moved by ``by`` days."""
    return str(date.fromisoformat(day) + timedelta(days=by))


def _start(cell: str) -> str:
    """The first day a date, period (YYYY-MM) or year (YYYY) cell stands for."""
    return {4: f"{cell}-01-01", 7: f"{cell}-01"}.get(len(cell), cell)


def _days_before(rng: np.random.Generator) -> int:
    return -int(rng.integers(1, 31))


# --- codes -----------------------------------------------------------------------------------------------------

def _length(row: Row, ctx: Context) -> Row:
    code = row["uscc"]
    return {"uscc": code[:17] if ctx.rng.random() < 0.5 else code + "0"}


def _charset(row: Row, ctx: Context) -> Row:
    code, at = row["uscc"], int(ctx.rng.integers(8, 17))
    return {"uscc": code[:at] + "IOZSV"[int(ctx.rng.integers(5))] + code[at + 1:]}


def _department(row: Row, ctx: Context) -> Row:
    first17 = "2346780A"[int(ctx.rng.integers(8))] + row["uscc"][1:17]
    return {"uscc": first17 + check_character(first17)}


def _region(row: Row, ctx: Context) -> Row:
    code, at = row["uscc"], int(ctx.rng.integers(2, 8))
    first17 = code[:at] + "ABCDEFGH"[int(ctx.rng.integers(8))] + code[at + 1:17]
    return {"uscc": first17 + check_character(first17)}


def _check_character(row: Row, ctx: Context) -> Row:
    code = row["uscc"]
    return {"uscc": code[:17] + ALPHABET[(ALPHABET.index(code[17]) + int(ctx.rng.integers(1, 31))) % 31]}


def _unregistered(row: Row, ctx: Context) -> Row:
    while True:
        organisation = "".join(ALPHABET[k] for k in ctx.rng.integers(0, 31, 8))
        code = make_uscc("9", "1", row["uscc"][2:8], organisation)
        if code not in ctx.registered:
            return {"uscc": code}


def _codes(spec: SourceSpec) -> list[Spoil]:
    spoils = [Spoil("uscc.length", "uscc", _length), Spoil("uscc.charset", "uscc", _charset),
              Spoil("uscc.department", "uscc", _department), Spoil("uscc.region", "uscc", _region),
              Spoil("uscc.check_character", "uscc", _check_character)]
    if spec.registered_uscc:
        spoils.append(Spoil("uscc.unregistered", "uscc", _unregistered))
    return spoils


# --- one cell --------------------------------------------------------------------------------------------------

def required(column: str) -> Spoil:
    return Spoil("required", column, lambda row, ctx: {column: ""}, present(column))


def date_format(column: str) -> Spoil:
    return Spoil("date.format", column, lambda row, ctx: {column: row[column].replace("-", "/")}, present(column))


def number_format(column: str, unit: str, where: Where | None = None) -> Spoil:
    eligible = present(column) if where is None else both(present(column), where)
    return Spoil("number.format", column, lambda row, ctx: {column: row[column] + unit}, eligible)


def unknown(column: str, value: str, where: Where | None = None) -> Spoil:
    return Spoil("code.unknown", column, lambda row, ctx: {column: value}, where)


def negative(column: str, where: Where | None = None) -> Spoil:
    eligible = positive(column) if where is None else both(positive(column), where)
    return Spoil("amount.negative", column, lambda row, ctx: {column: "-" + row[column]}, eligible)


def future(column: str) -> Spoil:
    def change(row: Row, ctx: Context) -> Row:
        return {column: str(ctx.extracted_on + timedelta(days=int(ctx.rng.integers(5, 61))))}
    return Spoil("date.future", column, change)


def before(later: str, earlier: str, where: Where | None = None) -> Spoil:
    """date.order: ``later`` set to a real day before ``earlier``."""
    def change(row: Row, ctx: Context) -> Row:
        return {later: shift(_start(row[earlier]), _days_before(ctx.rng))}
    return Spoil("date.order", later, change, where)


def missing_when(column: str, where: Where) -> Spoil:
    return Spoil("conditional.required", column, lambda row, ctx: {column: ""}, where)


def given_when_not(column: str, value: Change, where: Where) -> Spoil:
    return Spoil("conditional.not_applicable", column, value, where)


def conflict(change: Change) -> Spoil:
    """duplicate.conflict: the same key and availability date as the row, another value."""
    return Spoil("duplicate.conflict", None, change, copy=True)


DUPLICATE = Spoil("duplicate", None, None, copy=True)
ROW_FORMAT = Spoil("row.format", "(row)", None, breaks_line=True)


def _plus(column: str, amount: float, decimals: int = 2) -> Change:
    return lambda row, ctx: {column: f"{float(row[column] or 0) + amount:.{decimals}f}"}


# --- per source ------------------------------------------------------------------------------------------------

def _registration(spec: SourceSpec) -> list[Spoil]:
    def status_on_while_open(row: Row, ctx: Context) -> Row:
        return {"status_on": shift(row["founded_on"], 30)}
    return [required("name"), *_codes(spec), date_format("founded_on"),
            number_format("registered_capital", "元"), unknown("industry", "C44"),
            unknown("region_code", "990102"), unknown("size_class", "特大"), negative("registered_capital"),
            future("available_on"), before("available_on", "founded_on"),
            missing_when("status_on", is_("status", "注销", "吊销")),
            given_when_not("status_on", status_on_while_open, is_("status", "存续")),
            conflict(_plus("registered_capital", 1000.0)), DUPLICATE, ROW_FORMAT]


def _monthly(available: str, number: str, unit: str, amount: str, conflicting: Change) -> Callable[
        [SourceSpec], list[Spoil]]:
    def menu(spec: SourceSpec) -> list[Spoil]:
        extra = [unknown("kind", "steam")] if spec.name == "utilities_monthly" else []
        return [required(available), *_codes(spec), date_format(available),
                Spoil("period.format", "period", lambda row, ctx: {"period": row["period"].replace("-", "")}),
                number_format(number, unit), *extra, negative(amount), future(available),
                before(available, "period"), conflict(conflicting), DUPLICATE, ROW_FORMAT]
    return menu


def _tax_credit_grade(spec: SourceSpec) -> list[Spoil]:
    return [required("grade"), *_codes(spec), date_format("evaluated_on"),
            Spoil("year.format", "year", lambda row, ctx: {"year": row["year"] + "年"}), unknown("grade", "E"),
            future("available_on"), before("evaluated_on", "year"),
            conflict(lambda row, ctx: {"grade": "B" if row["grade"] == "A" else "A"}), DUPLICATE, ROW_FORMAT]


def _admin_records(spec: SourceSpec) -> list[Spoil]:
    penalty = is_("kind", "处罚")
    licence = is_("kind", "许可")

    def other_department(row: Row, ctx: Context) -> Row:
        return {"department": next(d for d in DEPARTMENTS if d != row["department"])}
    return [required("department"), *_codes(spec), date_format("decision_date"),
            number_format("amount", "元", penalty), unknown("kind", "通报", licence),
            unknown("severity", "特别严重", penalty), negative("amount", penalty), future("available_on"),
            before("published_on", "decision_date", present("published_on")),
            missing_when("severity", penalty), missing_when("repaired_on", is_("status", "已修复")),
            given_when_not("amount", lambda row, ctx: {"amount": "500.00"}, licence),
            given_when_not("severity", lambda row, ctx: {"severity": "一般"}, licence),
            conflict(other_department), DUPLICATE, ROW_FORMAT]


def _judicial(spec: SourceSpec) -> list[Spoil]:
    return [required("kind"), *_codes(spec), date_format("listed_on"), number_format("amount", "元"),
            unknown("kind", "被告"), negative("amount"), future("available_on"), before("removed_on", "listed_on"),
            conflict(_plus("amount", 100.0)), DUPLICATE, ROW_FORMAT]


def _list_entries(spec: SourceSpec) -> list[Spoil]:
    return [required("list_name"), *_codes(spec), date_format("entered_on"), unknown("list_name", "grey"),
            future("available_on"), before("exited_on", "entered_on"),
            conflict(lambda row, ctx: {"reason": row["reason"] + "（补充）"}), DUPLICATE, ROW_FORMAT]


def _commitments(spec: SourceSpec) -> list[Spoil]:
    resolved = is_("fulfilment", "kept", "broken")

    def resolved_while_pending(row: Row, ctx: Context) -> Row:
        day = min(date.fromisoformat(row["committed_on"]) + timedelta(days=int(ctx.rng.integers(1, 31))),
                  ctx.extracted_on)
        return {"resolved_on": str(day)}
    return [required("fulfilment"), *_codes(spec), date_format("committed_on"),
            unknown("fulfilment", "partial", is_("fulfilment", "pending")), future("available_on"),
            before("resolved_on", "committed_on", resolved), missing_when("resolved_on", resolved),
            given_when_not("resolved_on", resolved_while_pending, is_("fulfilment", "pending")),
            conflict(lambda row, ctx: {"department": "郑州市行政审批和政务信息管理局"}), DUPLICATE, ROW_FORMAT]


MENUS: dict[str, Callable[[SourceSpec], list[Spoil]]] = {
    "registration": _registration,
    "tax_monthly": _monthly("filed_on", "invoiced_sales", "元", "vat", _plus("invoiced_sales", 100.0)),
    "tax_credit_grade": _tax_credit_grade,
    "social_insurance_monthly": _monthly("available_on", "insured_headcount", "人", "contribution_due",
                                         _plus("contribution_paid", 100.0)),
    "housing_fund_monthly": _monthly("available_on", "contributors", "人", "contribution_due",
                                     _plus("contribution_paid", 100.0)),
    "utilities_monthly": _monthly("available_on", "days_late", "天", "amount_billed", _plus("quantity", 1.0, 1)),
    "admin_records": _admin_records,
    "judicial": _judicial,
    "list_entries": _list_entries,
    "commitments": _commitments,
}
