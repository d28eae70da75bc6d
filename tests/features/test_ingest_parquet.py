"""Parquet text feeds are read with codes and dates dictionary-encoded and checked once per distinct value; the
verdicts must be exactly those of the same rows sent as CSV, rule by rule, with empty cells sent as nulls."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.ingest import ingest_region, load_accepted, load_quarantine
from features.schemas import SOURCES
from tests.features.test_ingest import RULE_CASES
from tests.utils.raw_files import DEFAULT_ROWS, Row, write_csv, write_region


def _rows_by_source() -> dict[str, list[Row]]:
    """Each source's default row followed by every bad row the per-rule cases give it."""
    rows: dict[str, list[Row]] = defaultdict(list)
    for spec in SOURCES:
        rows[spec.name].append(DEFAULT_ROWS[spec.name]())
    for source, bad_row, _, _ in RULE_CASES:
        rows[source].append(bad_row)
    return rows


def _write(raw: Path, rows: dict[str, list[Row]], fmt: str) -> None:
    feeds = [{"source": spec.name, "path": f"{spec.name}.{fmt}", "format": fmt} for spec in SOURCES]
    write_region(raw, feeds=feeds)
    for spec in SOURCES:
        if fmt == "csv":
            write_csv(raw / f"{spec.name}.csv", spec.column_names, rows[spec.name])
        else:  # strings, with every empty cell sent as a null
            table = pa.table({name: pa.array([row.get(name) or None for row in rows[spec.name]], pa.string())
                              for name in spec.column_names})
            pq.write_table(table, raw / f"{spec.name}.parquet")


def test_parquet_text_feeds_get_the_verdicts_of_the_same_csv(tmp_path: Path) -> None:
    rows = _rows_by_source()
    outcomes = {}
    for fmt in ("csv", "parquet"):
        _write(tmp_path / fmt / "raw", rows, fmt)
        outcomes[fmt] = (ingest_region(tmp_path / fmt / "raw", tmp_path / fmt / "out"), tmp_path / fmt / "out")
    (csv_summary, csv_out), (parquet_summary, parquet_out) = outcomes["csv"], outcomes["parquet"]
    expected_rules = defaultdict(set)
    for source, _, _, rule in RULE_CASES:
        expected_rules[source].add(rule)
    for spec in SOURCES:
        csv_report, parquet_report = csv_summary.by_source[spec.name], parquet_summary.by_source[spec.name]
        assert (parquet_report.read, parquet_report.accepted, parquet_report.quarantined,
                parquet_report.duplicates) == (csv_report.read, csv_report.accepted, csv_report.quarantined,
                                               csv_report.duplicates), spec.name
        assert parquet_report.by_rule == csv_report.by_rule, spec.name
        assert set(parquet_report.by_rule) >= expected_rules[spec.name] - {"duplicate.conflict"}, spec.name

        from_csv = load_quarantine(csv_out, spec.name).sort_values("_line", ignore_index=True)
        from_parquet = load_quarantine(parquet_out, spec.name).sort_values("_line", ignore_index=True)
        assert (from_parquet["_line"] + 1).tolist() == from_csv["_line"].tolist()  # row number vs physical line
        compared = [*spec.column_names, "_field", "_rule", "_message"]
        for frame in (from_csv, from_parquet):  # a conflict names the file and line of the row it contradicts
            frame["_message"] = frame["_message"].str.replace(r"delivered in \S+ line \d+", "delivered in …",
                                                              regex=True)
        pd.testing.assert_frame_equal(from_parquet[compared], from_csv[compared], obj=spec.name)

        accepted_csv = load_accepted(csv_out, spec.name).drop(columns=["_file", "_line"])
        accepted_parquet = load_accepted(parquet_out, spec.name).drop(columns=["_file", "_line"])
        pd.testing.assert_frame_equal(accepted_parquet, accepted_csv, obj=spec.name)
        assert accepted_parquet["uscc"].dtype == object  # read back as plain strings, not categories
