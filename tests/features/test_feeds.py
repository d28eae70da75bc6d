"""Feeds as providers send them: formats, encodings, column mappings, several files per source, chunks, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.feed_manifest import IngestError, read_manifest
from features.ingest import current, ingest_region, load_accepted, load_quarantine
from features.schemas import ADMIN_RECORDS, TAX_MONTHLY
from tests.utils.raw_files import admin_row, tax_row, write_csv, write_region

TAX_ZH = {"纳税人识别号": "uscc", "所属期": "period", "增值税": "vat", "企业所得税": "cit",
          "开票金额": "invoiced_sales", "欠税金额": "overdue_tax", "申报日期": "filed_on"}
TAX_ROWS = [tax_row(period="2024-01"), tax_row(period="2024-02", vat="99.5", filed_on="2024-03-12"),
            tax_row(period="2024-03", vat="-1", filed_on="2024-04-12")]


def canonical_tax(out: Path) -> pd.DataFrame:
    return current(load_accepted(out, "tax_monthly")).sort_values("period").reset_index(drop=True)


def reference(tmp_path: Path) -> pd.DataFrame:
    raw = write_region(tmp_path / "reference" / "raw", {"tax_monthly": TAX_ROWS})
    ingest_region(raw, tmp_path / "reference" / "out")
    return canonical_tax(tmp_path / "reference" / "out")


def test_gb18030_csv_with_provider_column_names(tmp_path: Path) -> None:
    feed = {"source": "tax_monthly", "path": "税务_申报.csv", "format": "csv", "encoding": "gb18030",
            "department": "国家税务总局深圳市税务局", "columns": TAX_ZH}
    raw = write_region(tmp_path / "raw", feeds=[feed])
    inverse = {v: k for k, v in TAX_ZH.items()}
    write_csv(raw / "税务_申报.csv", list(TAX_ZH), [{inverse[k]: v for k, v in row.items()} for row in TAX_ROWS],
              encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        (raw / "税务_申报.csv").read_text(encoding="utf-8")
    summary = ingest_region(raw, tmp_path / "out")
    pd.testing.assert_frame_equal(canonical_tax(tmp_path / "out"), reference(tmp_path))
    quarantine = load_quarantine(tmp_path / "out", "tax_monthly")
    assert quarantine[["_file", "_line", "_rule"]].values.tolist() == [["税务_申报.csv", 4, "amount.negative"]]
    (file_report,) = summary.by_source["tax_monthly"].files
    assert (file_report.feed.department, file_report.read, file_report.accepted) == ("国家税务总局深圳市税务局", 3, 2)


def test_parquet_feeds_as_strings_or_typed(tmp_path: Path) -> None:
    strings = pa.table({name: [row[name] for row in TAX_ROWS] for name in TAX_MONTHLY.column_names})
    typed = pa.table({
        "uscc": [row["uscc"] for row in TAX_ROWS],
        "period": pa.array(pd.to_datetime([row["period"] for row in TAX_ROWS]).date, pa.date32()),
        "vat": pa.array([float(row["vat"]) for row in TAX_ROWS]),
        "cit": pa.array([0, 0, 0], pa.int64()),
        "invoiced_sales": pa.array([300000.0, 300000.0, None]),
        "overdue_tax": pa.array([0.0, 0.0, 0.0]),
        "filed_on": pa.array(pd.to_datetime([row["filed_on"] for row in TAX_ROWS])),
    })
    for name, table in (("strings", strings), ("typed", typed)):
        raw = write_region(tmp_path / name / "raw", feeds=[{"source": "tax_monthly", "path": "tax.parquet"}])
        pq.write_table(table, raw / "tax.parquet")
        ingest_region(raw, tmp_path / name / "out")
        got = canonical_tax(tmp_path / name / "out")
        expected = reference(tmp_path)
        if name == "typed":
            expected.loc[2:, "invoiced_sales"] = float("nan")
        pd.testing.assert_frame_equal(got.drop(columns=[]), expected, check_like=False)
        quarantine = load_quarantine(tmp_path / name / "out", "tax_monthly")
        assert quarantine[["_line", "_rule"]].values.tolist() == [[3, "amount.negative"]]  # Parquet: row number
        assert quarantine.loc[0, "vat"] in ("-1", "-1.0")


def test_json_lines_with_numbers_nulls_and_a_broken_line(tmp_path: Path) -> None:
    raw = write_region(tmp_path / "raw", feeds=[{"source": "tax_monthly", "path": "tax.jsonl", "encoding": "gb18030"}])
    lines = [json.dumps({**row, "vat": float(row["vat"]), "cit": None}, ensure_ascii=False) for row in TAX_ROWS]
    lines.insert(1, "{not json")
    (raw / "tax.jsonl").write_bytes(("\n".join(lines) + "\n").encode("gb18030"))
    summary = ingest_region(raw, tmp_path / "out")
    got = canonical_tax(tmp_path / "out")
    assert got["vat"].tolist() == [12000.5, 99.5] and got["cit"].isna().all()
    quarantine = load_quarantine(tmp_path / "out", "tax_monthly")
    assert quarantine[["_line", "_rule"]].values.tolist() == [[4, "amount.negative"], [2, "row.format"]]
    assert summary.by_source["tax_monthly"].read == 4


def test_one_source_from_two_departments_in_two_formats(tmp_path: Path) -> None:
    feeds = [{"source": "admin_records", "path": "market.csv", "department": "市场监管局"},
             {"source": "admin_records", "path": "env.jsonl", "department": "生态环境局"}]
    raw = write_region(tmp_path / "raw", feeds=feeds)
    write_csv(raw / "market.csv", ADMIN_RECORDS.column_names, [admin_row("AR-1"), admin_row("AR-2")])
    (raw / "env.jsonl").write_text(json.dumps(admin_row("EN-1", department="生态环境局"), ensure_ascii=False) + "\n",
                                   encoding="utf-8")
    summary = ingest_region(raw, tmp_path / "out")
    accepted = load_accepted(tmp_path / "out", "admin_records")
    assert sorted(accepted["record_id"]) == ["AR-1", "AR-2", "EN-1"]
    assert dict(zip(accepted["record_id"], accepted["_file"], strict=True))["EN-1"] == "env.jsonl"
    files = summary.by_source["admin_records"].files
    assert [(f.feed.path, f.feed.department, f.read) for f in files] == [("market.csv", "市场监管局", 2),
                                                                        ("env.jsonl", "生态环境局", 1)]


def test_small_chunks_give_the_same_output_as_one_chunk(tmp_path: Path) -> None:
    rows = [tax_row(period=f"2023-{m:02d}", filed_on="2024-02-01", vat=str(m)) for m in range(1, 13)]
    rows += [rows[3], tax_row(period="2023-05", vat="7", filed_on="2024-02-01"),
             tax_row(period="2023-06", vat="8", filed_on="2024-03-01")]
    raw = write_region(tmp_path / "raw", {"tax_monthly": rows})
    whole = ingest_region(raw, tmp_path / "whole")
    chunked = ingest_region(raw, tmp_path / "chunked", chunk_rows=2)
    assert whole.to_dict() == chunked.to_dict()
    assert (whole.by_source["tax_monthly"].duplicates, whole.by_source["tax_monthly"].corrections) == (1, 1)
    for folder in ("accepted", "quarantine"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "whole" / folder / "tax_monthly.parquet"),
                                      pd.read_parquet(tmp_path / "chunked" / folder / "tax_monthly.parquet"))


@pytest.mark.parametrize(("feed", "content", "message"), [
    ({"encoding": "latin-9"}, None, r"encoding 'latin-9' is unknown"),
    ({"format": "xlsx"}, None, r"format 'xlsx' is not one of"),
    ({"columns": {"税号": "taxpayer"}}, None, r"unknown target\(s\): taxpayer"),
    ({"path": "../outside.csv"}, None, r"inside the raw folder"),
    ({}, "纳税人识别号,所属期\n".encode(), r"missing column\(s\) uscc, period"),
    ({}, ",".join(TAX_MONTHLY.column_names).encode() + b"\n" + "深圳,2024-01,1,1,1,1,2024-02-01\n".encode("gb18030"),
     r"not valid utf-8"),
    ({"format": "parquet"}, b"PAR1 not really", r"not a readable parquet file"),
])
def test_unreadable_feeds_are_refused_whole_and_the_last_output_kept(tmp_path: Path, feed: dict[str, object],
                                                                     content: bytes | None, message: str) -> None:
    good = write_region(tmp_path / "good")
    ingest_region(good, tmp_path / "out")
    before = sorted((p.name, p.stat().st_mtime_ns) for p in (tmp_path / "out").rglob("*"))
    declared = {"source": "tax_monthly", "path": "tax.csv", **feed}
    raw = write_region(tmp_path / "raw", feeds=[declared])
    (raw / str(declared["path"]).replace("../", "")).write_bytes(
        content if content is not None else ",".join(TAX_MONTHLY.column_names).encode() + b"\n")
    with pytest.raises(IngestError, match=message):
        ingest_region(raw, tmp_path / "out")
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (tmp_path / "out").rglob("*")) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_source_without_a_declared_feed_reads_its_default_csv(tmp_path: Path) -> None:
    raw = write_region(tmp_path / "raw")
    manifest = read_manifest(raw)
    assert [f.path for f in manifest.feeds_of("judicial")] == ["judicial.csv"]
    assert {f.encoding for f in manifest.feeds} == {"utf-8"}


def test_a_line_of_spaces_is_a_malformed_row_not_a_crash(tmp_path: Path) -> None:
    raw = write_region(tmp_path / "raw")
    header = ",".join(TAX_MONTHLY.column_names)
    good = ",".join(tax_row().values())
    (raw / "tax_monthly.csv").write_text(f"{header}\n   \n\n{good}\n", encoding="utf-8")
    summary = ingest_region(raw, tmp_path / "out")
    quarantine = load_quarantine(tmp_path / "out", "tax_monthly")
    assert quarantine[["_line", "_rule"]].values.tolist() == [[2, "row.format"]]
    assert load_accepted(tmp_path / "out", "tax_monthly")["_line"].tolist() == [4]
    assert summary.by_source["tax_monthly"].read == 2


def _tax_csv(raw: Path, lines: list[str], ending: str = "\n") -> None:
    header = ",".join(TAX_MONTHLY.column_names)
    (raw / "tax_monthly.csv").write_bytes(ending.join([header, *lines, ""]).encode("utf-8"))


def _quoted(row: dict[str, str]) -> str:
    return ",".join(f'"{value}"' for value in row.values())


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 1_000_000])
@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_line_numbers_and_short_rows_whatever_the_chunk(tmp_path: Path, chunk_rows: int, ending: str) -> None:
    """Rows quoted or not, blank lines, short and long rows: the same lines whatever the chunk size."""
    raw = write_region(tmp_path / "raw")
    rows = [tax_row(period=f"2023-{m:02d}") for m in range(1, 8)]
    _tax_csv(raw, [_quoted(rows[0]), "", ",".join(rows[1].values()), "short,row", _quoted(rows[2]), "",
                   "", ",".join([*rows[3].values(), "extra"]), ",".join(rows[4].values()), "   ",
                   _quoted(rows[5])], ending)
    summary = ingest_region(raw, tmp_path / "out", chunk_rows=chunk_rows)
    quarantine = load_quarantine(tmp_path / "out", "tax_monthly")
    assert sorted(quarantine[["_line", "_rule"]].values.tolist()) == [
        [5, "row.format"], [9, "row.format"], [11, "row.format"]]
    assert "short,row" in str(quarantine.set_index("_line").loc[5, "_message"])
    accepted = load_accepted(tmp_path / "out", "tax_monthly")
    assert accepted[["_line", "period"]].values.tolist() == [
        [2, pd.Timestamp("2023-01-01")], [4, pd.Timestamp("2023-02-01")], [6, pd.Timestamp("2023-03-01")],
        [10, pd.Timestamp("2023-05-01")], [12, pd.Timestamp("2023-06-01")]]
    assert summary.by_source["tax_monthly"].read == 8


def test_a_quoted_value_across_lines_makes_those_lines_malformed(tmp_path: Path) -> None:
    """A row is one physical line: a quoted line break splits a row into two malformed lines (row.format),
    and the lines around it keep their numbers and values (a quoted comma is still a value)."""
    raw = write_region(tmp_path / "raw")
    first, second = tax_row(period="2023-01"), tax_row(period="2023-02")
    broken = dict(tax_row(period="2023-03"), vat="1\n2")
    _tax_csv(raw, [_quoted(first), _quoted(broken), _quoted(second)])
    ingest_region(raw, tmp_path / "out")
    quarantine = load_quarantine(tmp_path / "out", "tax_monthly")
    assert quarantine[["_line", "_rule"]].values.tolist() == [[3, "row.format"], [4, "row.format"]]
    accepted = load_accepted(tmp_path / "out", "tax_monthly")
    assert accepted[["_line", "vat"]].values.tolist() == [[2, float(first["vat"])], [5, float(second["vat"])]]
