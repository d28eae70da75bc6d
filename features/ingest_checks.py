"""Vectorised row checks on one chunk of a feed: each row is accepted typed, or quarantined for its first failed rule.

Rules run in ``schemas.RULE_ORDER``; within a rule, columns in canonical order. A row already rejected is not
checked again, so the quarantine names the first rule that fails. Keys (duplicates, corrections, conflicts)
are resolved across chunks afterwards by ``features.ingest_versions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.feed_manifest import RawChunk
from features.ingest_cells import (
    RawColumns,
    Verdicts,
    describe,
    lookup,
    non_empty,
    parse_dates,
    parse_numbers,
    regex_match,
    to_bool,
)
from features.schemas import RULE_ORDER, ColumnKind, SourceSpec
from features.uscc import check_character, check_uscc, check_uscc_many

VERDICT_COLUMNS = ("_file", "_line", "_field", "_rule", "_message")
_TIMESTAMP = pa.timestamp("ns")
_DATE_KINDS = {ColumnKind.DATE: "date", ColumnKind.PERIOD: "period", ColumnKind.YEAR: "year"}
_DATE_MESSAGES = {
    ColumnKind.DATE: ("date.format", "is not a calendar date in YYYY-MM-DD form"),
    ColumnKind.PERIOD: ("period.format", "is not a month in YYYY-MM form"),
    ColumnKind.YEAR: ("year.format", "is not a year in YYYY form"),
}


@dataclass(frozen=True)
class CheckedChunk:
    """The outcome for one chunk: typed accepted rows and raw quarantined rows, each with _file and _line."""

    accepted: pa.Table
    quarantine: pa.Table
    uscc_warnings: int


def uscc_message(code: str) -> str:
    """The quarantine message for a code that fails a GB 32100 rule."""
    check = check_uscc(code)
    rule = check.rule or "uscc.length"
    if rule == "uscc.check_character":
        return (f"uscc: check character (position 18) is '{code[17]}', "
                f"expected '{check_character(code[:17])}' (GB 32100)")
    if rule == "uscc.length":
        return f"uscc: '{code}' has {len(code)} characters; a USCC has exactly 18 (GB 32100)"
    return f"uscc: {check.message} (GB 32100, {rule})"


_USCC_RULES = tuple(rule for rule in RULE_ORDER if rule.startswith("uscc.") and rule != "uscc.unregistered")
_UNREGISTERED = len(_USCC_RULES) + 1


def _uscc_verdicts(codes: pa.Array, registry: pa.Array | None, warned_codes: pa.Array) -> tuple[np.ndarray,
                                                                                                 np.ndarray]:
    """Per code: 0 = fine, i = ``_USCC_RULES[i - 1]`` broken, ``_UNREGISTERED``; and whether position 17 warns.

    Only codes outside the registry (all codes, for registration itself) are checked character by character.
    """
    present = non_empty(codes)
    verdict = np.zeros(len(codes), dtype=np.int8)
    if registry is None:
        candidates = np.flatnonzero(present)
    else:
        candidates = np.flatnonzero(present & ~to_bool(pc.is_in(codes, value_set=registry)))
    warned = np.zeros(len(codes), dtype=bool)
    if len(candidates):
        rules, warned[candidates] = check_uscc_many(codes.take(pa.array(candidates, pa.int64())))
        numbered: dict[str | None, int] = {rule: i for i, rule in enumerate(_USCC_RULES, start=1)}
        numbered[None] = _UNREGISTERED if registry is not None else 0
        verdict[candidates] = [numbered[rule] for rule in rules]
    if registry is not None:
        warned = to_bool(pc.is_in(codes, value_set=warned_codes)) if len(warned_codes) else np.zeros_like(warned)
    return verdict, warned


def _check_uscc(raw: RawColumns, name: str, verdicts: Verdicts, registry: pa.Array | None,
                warned_codes: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The uscc.* format rules; returns (rows not registered, rows whose position 17 only warns).

    A dictionary-encoded column is checked once per distinct code, a plain one once per row.
    """
    if raw.is_dictionary(name):
        codes, rows = raw.distinct(name)
        verdict, warned = _uscc_verdicts(codes, registry, warned_codes)
        verdict, warned = verdict[rows], warned[rows]
    else:
        verdict, warned = _uscc_verdicts(raw.text(name), registry, warned_codes)
    failing = np.flatnonzero((verdict > 0) & (verdict < _UNREGISTERED))
    codes_of = {code: uscc_message(code) for code in set(raw.cells(name, failing))} if len(failing) else {}
    for number, rule in enumerate(_USCC_RULES, start=1):
        verdicts.reject(verdict == number, name, rule, lookup(raw, name, codes_of))
    return verdict == _UNREGISTERED, warned


def check_chunk(chunk: RawChunk, spec: SourceSpec, extracted_on: pd.Timestamp, registry: pa.Array | None,
                warned_codes: pa.Array | None = None) -> CheckedChunk:
    """Run every row rule over a chunk; ``registry`` None means this is registration (codes checked in full).

    ``warned_codes`` are the registered codes whose position 17 only warns; rows carrying them are counted.
    """
    raw = RawColumns(chunk.columns)
    n = raw.n_rows
    verdicts = Verdicts(n)
    typed: dict[str, np.ndarray] = {}
    warned_codes = warned_codes if warned_codes is not None else pa.array([], pa.string())

    for column in spec.columns:
        if column.required:
            verdicts.reject(~raw.present(column.name), column.name, "required",
                            f"{column.name}: a value is required but the cell is empty (required)")

    uscc_columns = [c.name for c in spec.columns if c.kind is ColumnKind.USCC]
    unregistered: dict[str, np.ndarray] = {}
    warned: dict[str, np.ndarray] = {}
    for name in uscc_columns:
        unregistered[name], warned[name] = _check_uscc(raw, name, verdicts, registry, warned_codes)
    for name in uscc_columns:
        verdicts.reject(unregistered[name], name, "uscc.unregistered", describe(
            raw, f"{name}: ", (name, False), " is not in the accepted registration (uscc.unregistered)"))

    _check_formats(raw, spec, verdicts, typed)
    _check_values(raw, spec, verdicts, typed, extracted_on)
    _check_conditionals(raw, spec, verdicts)

    warnings = sum(int((warned[name] & ~verdicts.failed).sum()) for name in uscc_columns)
    return CheckedChunk(_accepted(raw, spec, verdicts, typed, chunk), _quarantine(raw, spec, verdicts, chunk),
                        warnings)


def _check_formats(raw: RawColumns, spec: SourceSpec, verdicts: Verdicts, typed: dict[str, np.ndarray]) -> None:
    """date/period/year.format, number.format and code.unknown, in rule order; fills ``typed``."""
    failures: dict[str, list[tuple[str, np.ndarray, str]]] = {rule: [] for rule in RULE_ORDER}
    for column in spec.columns:
        name = column.name
        if column.kind in _DATE_KINDS:
            typed[name], bad = parse_dates(raw, name, _DATE_KINDS[column.kind])
            rule, explanation = _DATE_MESSAGES[column.kind]
            failures[rule].append((name, bad, explanation))
        elif column.kind in (ColumnKind.NUMBER, ColumnKind.AMOUNT):
            typed[name], bad = parse_numbers(raw, name)
            failures["number.format"].append(
                (name, bad, "is not a decimal number (decimal point, no thousands separator)"))
        elif column.kind is ColumnKind.CODE:
            if column.allowed:
                known = raw.is_in(name, column.allowed)
                expected = "is not one of " + ", ".join(column.allowed)
            else:
                known = raw.per_value(name, partial(regex_match, pattern=f"^(?:{column.pattern})$"))
                expected = f"is not a valid code: {column.description}"
            failures["code.unknown"].append((name, raw.present(name) & ~known, expected))
    for rule, checks in failures.items():
        for name, bad, explanation in checks:
            verdicts.reject(bad, name, rule, describe(raw, f"{name}: ", (name, True), f" {explanation} ({rule})"))


def _check_values(raw: RawColumns, spec: SourceSpec, verdicts: Verdicts, typed: dict[str, np.ndarray],
                  extracted_on: pd.Timestamp) -> None:
    """amount.negative, date.future and date.order."""
    for column in spec.columns:
        if column.kind is ColumnKind.AMOUNT:
            with np.errstate(invalid="ignore"):
                negative = typed[column.name] < 0
            verdicts.reject(negative, column.name, "amount.negative", describe(
                raw, f"{column.name}: ", (column.name, False),
                " is negative; it must be zero or more (amount.negative)"))
    cutoff = np.datetime64(extracted_on.strftime("%Y-%m-%d"), "ns")
    for column in spec.columns:
        if column.kind in _DATE_KINDS:
            future = typed[column.name] > cutoff
            verdicts.reject(future, column.name, "date.future", describe(
                raw, f"{column.name}: ", (column.name, False),
                f" is after the extraction date {extracted_on:%Y-%m-%d} (date.future)"))
    for order in spec.date_orders:
        backwards = typed[order.later] < typed[order.earlier]
        verdicts.reject(backwards, order.later, "date.order", describe(
            raw, f"{order.later}: ", (order.later, False), f" is before {order.earlier} ", (order.earlier, False),
            " (date.order)"))


def _check_conditionals(raw: RawColumns, spec: SourceSpec, verdicts: Verdicts) -> None:
    """conditional.required, then conditional.not_applicable, for each declared condition."""
    conditions = {rule: raw.is_in(rule.when_column, rule.when) for rule in spec.conditionals}
    for rule in spec.conditionals:
        if rule.required:
            when = "/".join(rule.when)
            verdicts.reject(conditions[rule] & ~raw.present(rule.column), rule.column, "conditional.required",
                            describe(raw, f"{rule.column}: required when {rule.when_column} is {when} (here ",
                                     (rule.when_column, True), "), but the cell is empty (conditional.required)"))
    for rule in spec.conditionals:
        verdicts.reject(~conditions[rule] & raw.present(rule.column), rule.column, "conditional.not_applicable",
                        describe(raw, f"{rule.column}: ", (rule.column, True), f" given while {rule.when_column} is ",
                                 (rule.when_column, True), f"; only allowed for {'/'.join(rule.when)} "
                                 "(conditional.not_applicable)"))


def _accepted(raw: RawColumns, spec: SourceSpec, verdicts: Verdicts, typed: dict[str, np.ndarray],
              chunk: RawChunk) -> pa.Table:
    """The rows that passed, typed; text columns stay dictionary-encoded where they came so (and ``_file`` is
    one dictionary entry), which Parquet writes without hashing every cell again."""
    everything = not verdicts.failed.any()
    ok = np.flatnonzero(~verdicts.failed)
    arrays: dict[str, pa.Array] = {}
    for column in spec.columns:
        name = column.name
        if name in typed:
            values = typed[name] if everything else typed[name][ok]
            kind = _TIMESTAMP if column.kind in _DATE_KINDS else pa.float64()
            arrays[name] = pa.array(values, kind, from_pandas=True)
            continue
        present = raw.present(name) if everything else raw.present(name)[ok]
        missing = None if present.all() else ~present
        if raw.is_dictionary(name):
            values, rows = raw.distinct(name)
            # the "" that distinct() appends for null cells may repeat a "" already there, and Parquet then wrote
            # different dictionary bytes for the same input: the null cells are masked, so it is left out
            kept = rows if everything else rows[ok]
            arrays[name] = pa.DictionaryArray.from_arrays(np.minimum(kept, len(values) - 2).clip(0), values[:-1],
                                                          mask=missing)
        else:
            text = raw.text(name) if everything else raw.text(name).take(pa.array(ok, pa.int64()))
            arrays[name] = text if missing is None else pc.if_else(
                pa.array(missing), pa.scalar(None, pa.string()), text)
    arrays["_file"] = pa.DictionaryArray.from_arrays(pa.array(np.zeros(len(ok), dtype=np.int32)),
                                                     pa.array([chunk.feed.path], pa.string()))
    arrays["_line"] = pa.array(chunk.lines if everything else chunk.lines[ok], pa.int64())
    return pa.table(arrays)


def _quarantine(raw: RawColumns, spec: SourceSpec, verdicts: Verdicts, chunk: RawChunk) -> pa.Table:
    bad = np.flatnonzero(verdicts.failed)
    arrays: dict[str, pa.Array] = {name: raw.text_at(name, bad) for name in spec.column_names}
    arrays["_file"] = pa.array([chunk.feed.path] * len(bad), pa.string())
    arrays["_line"] = pa.array(chunk.lines[bad], pa.int64())
    arrays["_field"] = pa.array(verdicts.field[bad].tolist(), pa.string())
    arrays["_rule"] = pa.array(verdicts.rule[bad].tolist(), pa.string())
    arrays["_message"] = pa.array(verdicts.message[bad].tolist(), pa.string())
    table = pa.table(arrays)
    if chunk.malformed:
        lines, messages, texts = zip(*chunk.malformed, strict=True)
        rows = len(lines)
        extra = {name: pa.array([""] * rows, pa.string()) for name in spec.column_names}
        extra["_file"] = pa.array([chunk.feed.path] * rows, pa.string())
        extra["_line"] = pa.array(lines, pa.int64())
        extra["_field"] = pa.array(["(row)"] * rows, pa.string())
        extra["_rule"] = pa.array(["row.format"] * rows, pa.string())
        extra["_message"] = pa.array([f"{m}: {t}" for m, t in zip(messages, texts, strict=True)], pa.string())
        table = pa.concat_tables([table, pa.table(extra)])
    return table


def quarantine_schema(spec: SourceSpec) -> pa.Schema:
    """Arrow schema of a quarantine: every canonical column as the raw string, then the verdict columns."""
    fields = [pa.field(name, pa.string()) for name in spec.column_names]
    fields += [pa.field("_file", pa.string()), pa.field("_line", pa.int64()), pa.field("_field", pa.string()),
               pa.field("_rule", pa.string()), pa.field("_message", pa.string())]
    return pa.schema(fields)
