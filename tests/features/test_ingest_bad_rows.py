"""A row that cannot be read (bytes not in the feed's encoding, the wrong number of fields) is quarantined with
its line and reason and the rest of the file is loaded; a file that is not in its declared encoding at all is
still refused whole, leaving the previous output in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.ingest import IngestError, ingest_region, load_accepted, load_quarantine
from features.schemas import TAX_MONTHLY
from tests.utils.raw_files import tax_row, write_region

HEADER = ",".join(TAX_MONTHLY.column_names)


def _line(**overrides: str) -> str:
    row = tax_row(**overrides)
    return ",".join(row[name] for name in TAX_MONTHLY.column_names)


def _tax_file(raw: Path, lines: list[bytes], name: str = "tax.csv", encoding: str = "utf-8") -> None:
    write_region(raw, feeds=[{"source": "tax_monthly", "path": name, "encoding": encoding}])
    (raw / name).write_bytes(HEADER.encode() + b"\n" + b"\n".join(lines) + b"\n")


GOOD = [_line(period=f"2024-0{month}", filed_on=f"2024-0{month + 1}-10").encode() for month in range(1, 6)]
NOT_UTF8 = _line(period="2023-11", filed_on="2023-12-10").replace("2023-11", "2023-11\xff").encode("latin-1")
SHORT_NOT_UTF8 = b"\xff\xfe,2023-12"
LONG = (_line(period="2023-10", filed_on="2023-11-10") + ",extra").encode()
SHORT = b"2023-09,1"


@pytest.mark.parametrize("chunk_rows", [1, 2, 250_000])
def test_unreadable_rows_are_quarantined_and_the_rest_loaded(tmp_path: Path, chunk_rows: int) -> None:
    lines = [GOOD[0], NOT_UTF8, GOOD[1], SHORT_NOT_UTF8, GOOD[2], b"", LONG, GOOD[3], SHORT, GOOD[4]]
    _tax_file(tmp_path / "raw", lines)
    summary = ingest_region(tmp_path / "raw", tmp_path / "out", chunk_rows=chunk_rows)

    report = summary.by_source["tax_monthly"]
    assert (report.read, report.accepted, report.quarantined) == (9, 5, 4)
    assert report.by_rule == {"row.format": 4}
    quarantine = load_quarantine(tmp_path / "out", "tax_monthly").sort_values("_line", ignore_index=True)
    assert quarantine["_line"].tolist() == [3, 5, 8, 10]  # header = line 1; the blank line 7 is no row
    assert set(quarantine["_field"]) == {"(row)"}
    messages = quarantine["_message"].tolist()
    assert "not valid utf-8" in messages[0] and "\\xff" in messages[0]  # the bad byte is shown, escaped
    assert "not valid utf-8" in messages[1] and "\\xff\\xfe,2023-12" in messages[1]
    assert "fields" in messages[2] and "fields" in messages[3]
    accepted = load_accepted(tmp_path / "out", "tax_monthly")
    assert sorted(accepted["_line"]) == [2, 4, 6, 9, 11]


def test_a_gb18030_feed_with_one_undecodable_row(tmp_path: Path) -> None:
    good = GOOD[:3]  # ASCII, the same bytes in GB18030
    broken = _line(period="2023-11", filed_on="2023-12-10").encode("gb18030") + b"\x81"  # a lead byte alone
    _tax_file(tmp_path / "raw", [good[0], broken, good[1], good[2]], encoding="gb18030")
    summary = ingest_region(tmp_path / "raw", tmp_path / "out")
    assert (summary.by_source["tax_monthly"].accepted, summary.by_source["tax_monthly"].quarantined) == (3, 1)
    row = load_quarantine(tmp_path / "out", "tax_monthly").iloc[0]
    assert row["_line"] == 3 and "not valid gb18030" in row["_message"]


def test_json_lines_with_an_undecodable_line(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_region(raw, feeds=[{"source": "tax_monthly", "path": "tax.jsonl"}])
    good = [f'{{"uscc": "{tax_row()["uscc"]}", "period": "2024-0{m}", "filed_on": "2024-0{m + 1}-10"}}'.encode()
            for m in (1, 2)]
    (raw / "tax.jsonl").write_bytes(good[0] + b'\n{"uscc": "\xff"}\n' + good[1] + b"\n")
    summary = ingest_region(raw, tmp_path / "out")
    assert (summary.by_source["tax_monthly"].accepted, summary.by_source["tax_monthly"].quarantined) == (2, 1)
    row = load_quarantine(tmp_path / "out", "tax_monthly").iloc[0]
    assert (row["_line"], row["_rule"]) == (2, "row.format") and "not valid utf-8" in row["_message"]


def test_a_file_mostly_not_in_its_declared_encoding_is_refused_whole(tmp_path: Path) -> None:
    ingest_region(write_region(tmp_path / "good"), tmp_path / "out")
    before = sorted((p.name, p.stat().st_mtime_ns) for p in (tmp_path / "out").rglob("*"))
    gbk = [_line(period=f"2024-0{m}", filed_on=f"2024-0{m + 1}-10").replace(",2024-0", ",深圳2024-0", 1)
           .encode("gb18030") for m in range(1, 4)]
    _tax_file(tmp_path / "raw", [*gbk, GOOD[4]])  # three of four rows are GBK in a feed declared UTF-8
    with pytest.raises(IngestError, match=r"tax\.csv: 3 of 4 lines are not valid utf-8 \(line 2: .*declare"):
        ingest_region(tmp_path / "raw", tmp_path / "out")
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (tmp_path / "out").rglob("*")) == before


def test_a_header_not_in_the_declared_encoding_refuses_the_file(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_region(raw, feeds=[{"source": "tax_monthly", "path": "tax.csv"}])
    (raw / "tax.csv").write_bytes(("纳税人," + HEADER).encode("gb18030") + b"\n" + GOOD[0] + b"\n")
    with pytest.raises(IngestError, match=r"tax\.csv: .*not valid utf-8"):
        ingest_region(raw, tmp_path / "out")
