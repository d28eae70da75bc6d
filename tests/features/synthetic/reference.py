"""A slow, obviously-correct reading of a generated region, independent of ``features.ingest``.

``read_feed`` reads one manifest feed back with pandas in its declared format and encoding and maps the
provider's columns to canonical ones. ``expected_dirty`` walks every row in file order and names the first
rule of ``schemas.RULE_ORDER`` it breaks, so the generator's ``truth/dirty_rows.csv`` can be checked against it.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from features.schemas import SOURCES, Column, ColumnKind, SourceSpec
from features.uscc import check_uscc

DirtyRow = tuple[str, str, int, str, str]  # source, file, line, rule, field
_SHAPES = {ColumnKind.DATE: r"\d{4}-\d{2}-\d{2}", ColumnKind.PERIOD: r"\d{4}-\d{2}", ColumnKind.YEAR: r"\d{4}"}
_FORMAT_RULES = {ColumnKind.DATE: "date.format", ColumnKind.PERIOD: "period.format", ColumnKind.YEAR: "year.format",
                 ColumnKind.NUMBER: "number.format", ColumnKind.AMOUNT: "number.format",
                 ColumnKind.CODE: "code.unknown"}
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def manifest(raw_dir: Path) -> dict[str, Any]:
    return json.loads((raw_dir / "manifest.json").read_text(encoding="utf-8"))


def read_feed(raw_dir: Path, feed: dict[str, Any]) -> pd.DataFrame:
    """The feed's rows as strings ("" = missing) under canonical column names, in file order.

    ``_broken`` marks a line that cannot be split into the columns (a CSV line with too few fields, a JSON
    Lines line that is not an object); its cells read as "".
    """
    path = raw_dir / feed["path"]
    if feed["format"] == "csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=feed["encoding"])
        header, *lines = csv.reader(path.read_text(encoding=feed["encoding"]).splitlines())
        broken = [len(fields) != len(header) for fields in lines]
    elif feed["format"] == "parquet":
        frame = pd.read_parquet(path)
        broken = [False] * len(frame)
    else:
        records, broken = [], []
        for line in path.read_text(encoding=feed["encoding"]).splitlines():
            try:
                records.append(json.loads(line))
                broken.append(False)
            except json.JSONDecodeError:
                records.append({})
                broken.append(True)
        frame = pd.DataFrame(records)
    frame = frame.fillna("").rename(columns=feed["columns"])
    frame["_broken"] = broken
    return frame


@cache
def _uscc_rule(code: str) -> str | None:
    check = check_uscc(code)
    return None if check.valid else str(check.rule)


@cache
def _typed_cell(kind: ColumnKind, text: str) -> date | float | None:
    if kind in _SHAPES:
        if not re.fullmatch(_SHAPES[kind], text):
            return None
        parts = [int(p) for p in text.split("-")] + [1, 1]
        try:
            return date(parts[0], parts[1], parts[2])
        except ValueError:
            return None
    if kind in (ColumnKind.NUMBER, ColumnKind.AMOUNT):
        return float(text) if _NUMBER.fullmatch(text) else None
    return None


def _typed(column: Column, text: str) -> date | float | None:
    """The value of a well-formed cell, None when it is malformed."""
    return _typed_cell(column.kind, text)


def _code_known(column: Column, text: str) -> bool:
    return text in column.allowed if column.allowed else bool(re.fullmatch(f"(?:{column.pattern})", text))


def first_failure(row: dict[str, str], spec: SourceSpec, extracted_on: date,
                  registry: set[str] | None) -> tuple[str, str] | None:
    """(rule, field) of the first rule the row breaks, duplicates aside; None when it passes them all."""
    for column in spec.columns:
        if column.required and row[column.name] == "":
            return "required", column.name
    present = [c for c in spec.columns if row[c.name] != ""]
    for column in present:
        if column.kind is ColumnKind.USCC:
            rule = _uscc_rule(row[column.name])
            if rule is not None:
                return rule, column.name
    if registry is not None and spec.registered_uscc and row["uscc"] not in registry:
        return "uscc.unregistered", "uscc"
    typed = {c.name: _typed(c, row[c.name]) for c in present}
    for rule in ("date.format", "period.format", "year.format", "number.format", "code.unknown"):
        for column in present:
            if _FORMAT_RULES.get(column.kind) != rule:
                continue
            bad = not _code_known(column, row[column.name]) if column.kind is ColumnKind.CODE \
                else typed[column.name] is None
            if bad:
                return rule, column.name
    for column in present:
        if column.kind is ColumnKind.AMOUNT and typed[column.name] < 0:  # type: ignore[operator]
            return "amount.negative", column.name
    for column in present:
        if column.kind in _SHAPES and typed[column.name] > extracted_on:  # type: ignore[operator]
            return "date.future", column.name
    for order in spec.date_orders:
        earlier, later = typed.get(order.earlier), typed.get(order.later)
        if earlier is not None and later is not None and later < earlier:  # type: ignore[operator]
            return "date.order", order.later
    for conditional in spec.conditionals:
        if conditional.required and row[conditional.when_column] in conditional.when and row[conditional.column] == "":
            return "conditional.required", conditional.column
    for conditional in spec.conditionals:
        if row[conditional.when_column] not in conditional.when and row[conditional.column] != "":
            return "conditional.not_applicable", conditional.column
    return None


def expected_dirty(raw_dir: Path) -> tuple[set[DirtyRow], dict[str, pd.DataFrame]]:
    """Every row that must not be accepted, with its rule; and the accepted rows of each source."""
    info = manifest(raw_dir)
    extracted_on = date.fromisoformat(info["extracted_on"])
    registry: set[str] | None = None
    dirty: set[DirtyRow] = set()
    accepted: dict[str, pd.DataFrame] = {}
    for spec in SOURCES:
        key, names = ",".join(spec.key), spec.column_names
        seen: set[tuple[str, ...]] = set()
        versions: dict[tuple[str, ...], tuple[str, ...]] = {}
        kept = []
        for feed in (f for f in info["feeds"] if f["source"] == spec.name):
            frame = read_feed(raw_dir, feed)
            first_line = 2 if feed["format"] == "csv" else 1
            rows = zip(frame["_broken"], *(frame[c].tolist() for c in names), strict=True)
            for k, (broken, *cells) in enumerate(rows):
                line, values = first_line + k, tuple(cells)
                if broken:
                    dirty.add((spec.name, feed["path"], line, "row.format", "(row)"))
                    continue
                row = dict(zip(names, values, strict=True))
                if values in seen:
                    dirty.add((spec.name, feed["path"], line, "duplicate", key))
                    continue
                seen.add(values)
                failure = first_failure(row, spec, extracted_on, registry)
                version = tuple(row[c] for c in (*spec.key, spec.available))
                if failure is None and versions.get(version, values) != values:
                    failure = ("duplicate.conflict", key)
                if failure is not None:
                    dirty.add((spec.name, feed["path"], line, *failure))
                    continue
                versions[version] = values
                kept.append(values)
        accepted[spec.name] = pd.DataFrame(kept, columns=list(names))
        if spec.name == "registration":
            registry = set(accepted[spec.name]["uscc"])
    return dirty, accepted
