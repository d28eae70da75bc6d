"""The demo region's feeds: which file carries which source, in what format and encoding, under whose names.

Real extracts come from several departments as CSV, Parquet or JSON Lines, in UTF-8 or GB18030, with the
providers' own column names; ``raw/manifest.json`` lists them (docs/data-sources.md) and the ingest maps them back
to the canonical columns of ``features.schemas``. Every cell is a string, empty string = missing.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from features.feed_manifest import ENCODINGS as READABLE_ENCODINGS
from features.feed_manifest import FORMATS
from features.feed_manifest import Feed as IngestFeed
from features.synthetic.sources_records import CREDIT_OFFICE, MARKET, TAX_BUREAU

ENCODINGS = tuple(sorted(set(READABLE_ENCODINGS.values())))


@dataclass(frozen=True)
class Feed(IngestFeed):
    """A feed the ingest reads (``features.feeds.Feed``), plus which of the source's rows the generator puts in it.

    ``where`` (column, value) takes the source's rows with that value; a feed without it takes the rows no
    earlier feed of the source took.
    """

    where: tuple[str, str] | None = None

    def manifest_entry(self) -> dict[str, Any]:
        """The feed as ``raw/manifest.json`` lists it."""
        entry: dict[str, Any] = {"source": self.source, "path": self.path, "format": self.format,
                                 "encoding": self.encoding}
        if self.department is not None:
            entry["department"] = self.department
        entry["columns"] = dict(self.columns)
        return entry


DEMO_FEEDS: tuple[Feed, ...] = (
    Feed("registration", "registration.csv", department=MARKET),
    Feed("tax_monthly", "tax_monthly.csv", encoding="gb18030", department=TAX_BUREAU, columns={
        "纳税人识别号": "uscc", "所属期": "period", "增值税": "vat", "企业所得税": "cit",
        "开票销售额": "invoiced_sales", "欠税金额": "overdue_tax", "申报日期": "filed_on"}),
    Feed("tax_credit_grade", "tax_credit_grade.csv", encoding="gb18030", department=TAX_BUREAU, columns={
        "纳税人识别号": "uscc", "评价年度": "year", "信用级别": "grade", "评定日期": "evaluated_on",
        "发布日期": "available_on"}),
    Feed("social_insurance_monthly", "social_insurance_monthly.parquet", format="parquet",
         department="郑州市人力资源和社会保障局", columns={
             "TYSHXYDM": "uscc", "SSQ": "period", "CBRS": "insured_headcount", "YJJE": "contribution_due",
             "SJJE": "contribution_paid", "QJJE": "arrears", "TSRQ": "available_on"}),
    Feed("housing_fund_monthly", "housing_fund_monthly.jsonl", format="jsonl", department="郑州住房公积金管理中心",
         columns={"credit_code": "uscc", "depositors": "contributors"}),
    Feed("utilities_monthly", "utilities_monthly.csv"),
    Feed("admin_records", "admin_records_market.jsonl", format="jsonl", department=MARKET,
         where=("department", MARKET)),
    Feed("admin_records", "admin_records_other.csv", department=CREDIT_OFFICE),
    Feed("judicial", "judicial.csv", department="郑州市中级人民法院"),
    Feed("list_entries", "list_entries.csv", department=CREDIT_OFFICE),
    Feed("commitments", "commitments.csv", department=CREDIT_OFFICE),
)


def split(table: pa.Table, feeds: list[Feed]) -> list[pa.Table]:
    """The rows of one source's table that go to each of its feeds, in feed order."""
    left = np.ones(table.num_rows, dtype=bool)
    parts = []
    for feed in feeds:
        take = left.copy()
        if feed.where is not None:
            column, value = feed.where
            take &= pc.equal(table[column], value).to_numpy(zero_copy_only=False)
        left &= ~take
        parts.append(table if take.all() else table.filter(pa.array(take)))
    return parts


def write_feed(table: pa.Table, feed: Feed, raw_dir: Path, broken: Sequence[int] = ()) -> None:
    """Write a canonical string table as the feed's file: provider column names, format and encoding.

    The 0-based rows in ``broken`` are written cut short (a CSV line missing its last field, a JSON object
    missing its closing brace), as a truncated transfer leaves them.
    """
    if feed.format not in FORMATS or feed.encoding not in ENCODINGS or (
            feed.format == "parquet" and feed.encoding != "utf-8"):
        raise ValueError(f"{feed.path}: format {feed.format!r} in {feed.encoding!r} is not one of {FORMATS} in "
                         f"{ENCODINGS} (Parquet is UTF-8)")
    provider_name = {canonical: provider for provider, canonical in feed.columns.items()}
    table = table.rename_columns([provider_name.get(name, name) for name in table.column_names])
    path = raw_dir / feed.path
    path.parent.mkdir(parents=True, exist_ok=True)
    if feed.format == "parquet":
        pq.write_table(table, path)
        return
    if broken and feed.format == "parquet":
        raise ValueError(f"{feed.path}: a Parquet row cannot be cut short")
    body = _csv_body(table) if feed.format == "csv" else _jsonl_body(table)
    body = _transcode(_cut_short(body, broken, feed.format), feed.encoding)
    header = (",".join(table.column_names) + "\n").encode(feed.encoding) if feed.format == "csv" else b""
    path.write_bytes(header + body)


def _cut_short(body: bytes, rows: Sequence[int], fmt: str) -> bytes:
    """``body`` with the lines of ``rows`` cut short: the last CSV field or the closing JSON brace dropped."""
    if not len(rows):
        return body
    ends = np.flatnonzero(np.frombuffer(body, dtype=np.uint8) == ord("\n"))
    pieces, at = [], 0
    for row in sorted(rows):
        start, end = (int(ends[row - 1]) + 1 if row else 0), int(ends[row])
        line = body[start:end].decode("utf-8")
        if fmt == "csv":
            fields = next(csv.reader([line]))
            out = io.StringIO()
            csv.writer(out, lineterminator="").writerow(fields[:-1])
            line = out.getvalue()
        else:
            line = line[:-1]
        pieces += [body[at:start], line.encode("utf-8")]
        at = end
    pieces.append(body[at:])
    return b"".join(pieces)


def _transcode(body: bytes, encoding: str) -> bytes:
    """UTF-8 bytes in ``encoding``, re-encoding only the runs of non-ASCII bytes (whole characters in UTF-8)."""
    if encoding == "utf-8":
        return body
    high = np.flatnonzero(np.frombuffer(body, dtype=np.uint8) >= 0x80)
    if not len(high):
        return body
    gaps = np.flatnonzero(np.diff(high) > 1)
    starts = np.concatenate([high[:1], high[gaps + 1]]).tolist()
    ends = (np.concatenate([high[gaps], high[-1:]]) + 1).tolist()
    pieces, at = [], 0
    for start, end in zip(starts, ends, strict=True):
        pieces += [body[at:start], body[start:end].decode("utf-8").encode(encoding)]
        at = end
    pieces.append(body[at:])
    return b"".join(pieces)


def _csv_body(table: pa.Table) -> bytes:
    """The rows as UTF-8 CSV; cells are quoted only when a value needs it (then every text cell is)."""
    body = io.BytesIO()
    try:
        pa_csv.write_csv(table, body, pa_csv.WriteOptions(include_header=False, quoting_style="none"))
    except pa.ArrowInvalid:  # a comma, quote or line break in a value
        body = io.BytesIO()
        pa_csv.write_csv(table, body, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    return body.getvalue()


def _json_strings(column: pa.Array) -> pa.Array:
    """Each cell as a JSON string literal; only cells with quotes, backslashes or control characters escaped."""
    plain = pc.binary_join_element_wise(pa.scalar('"'), column, pa.scalar('"'), "")
    special = pc.match_substring_regex(column, r'["\\\x00-\x1f]').to_numpy(zero_copy_only=False)
    if not special.any():
        return plain
    values = plain.to_numpy(zero_copy_only=False).copy()
    raw = column.to_numpy(zero_copy_only=False)
    values[special] = [json.dumps(v, ensure_ascii=False) for v in raw[special]]
    return pa.array(values, pa.string())


def _jsonl_body(table: pa.Table) -> bytes:
    """One JSON object per line, every value a string, as ``json.dumps(row, ensure_ascii=False)`` writes it."""
    if table.num_rows == 0:
        return b""
    parts: list[pa.Array | pa.Scalar] = []
    for k, name in enumerate(table.column_names):
        parts.append(pa.scalar(("{" if k == 0 else ", ") + json.dumps(name, ensure_ascii=False) + ": "))
        parts.append(_json_strings(table[name].combine_chunks()))
    parts.append(pa.scalar("}\n"))
    lines = pc.binary_join_element_wise(*parts, "").cast(pa.large_string())
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset:lines.offset + len(lines) + 1]
    return lines.buffers()[2].to_pybytes()[offsets[0]:offsets[-1]]
