"""Feeds: each file readable in its declared format and encoding, provider names mapped back to canonical ones."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.schemas import SOURCES_BY_NAME
from features.synthetic import RegionFiles
from features.synthetic.feeds import DEMO_FEEDS, Feed, split, write_feed
from tests.features.synthetic.reference import manifest, read_feed


def test_every_feed_reads_back_with_the_canonical_columns(region: RegionFiles) -> None:
    for feed in manifest(region.raw_dir)["feeds"]:
        frame = read_feed(region.raw_dir, feed).drop(columns="_broken")
        assert tuple(frame.columns) == SOURCES_BY_NAME[feed["source"]].column_names, feed["path"]
        assert len(frame) > 0, feed["path"]
        assert all(isinstance(v, str) for name in frame.columns for v in frame[name]), feed["path"]


def test_the_demo_mixes_formats_encodings_and_provider_names() -> None:
    formats = {(feed.format, feed.encoding) for feed in DEMO_FEEDS}
    assert {("csv", "gb18030"), ("parquet", "utf-8"), ("jsonl", "utf-8"), ("csv", "utf-8")} <= formats
    assert any(feed.encoding == "gb18030" and any(ord(ch) > 127 for ch in "".join(feed.columns))
               for feed in DEMO_FEEDS)
    admin = [feed for feed in DEMO_FEEDS if feed.source == "admin_records"]
    assert len(admin) == 2
    assert len({feed.format for feed in admin}) == 2
    assert len({feed.department for feed in admin}) == 2
    partial = next(feed for feed in DEMO_FEEDS if feed.source == "housing_fund_monthly")
    assert 0 < len(partial.columns) < len(SOURCES_BY_NAME[partial.source].columns)  # the rest pass through


def test_gb18030_files_are_not_utf8(region: RegionFiles) -> None:
    for feed in (f for f in manifest(region.raw_dir)["feeds"] if f["encoding"] == "gb18030"):
        data = (region.raw_dir / feed["path"]).read_bytes()
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        header = data.decode("gb18030").splitlines()[0].split(",")
        assert header == list(feed["columns"]), feed["path"]


def test_parquet_columns_are_strings_and_jsonl_lines_are_objects_of_strings(region: RegionFiles) -> None:
    for feed in manifest(region.raw_dir)["feeds"]:
        path = region.raw_dir / feed["path"]
        if feed["format"] == "parquet":
            schema = pq.read_schema(path)
            assert all(field.type == pa.string() for field in schema), feed["path"]
        elif feed["format"] == "jsonl":
            lines = path.read_text(encoding=feed["encoding"]).splitlines()
            objects = [json.loads(line) for line in lines[:500] if line.endswith("}")]
            assert all(isinstance(v, str) for obj in objects for v in obj.values())
            assert lines[0] == json.dumps(objects[0], ensure_ascii=False)


def test_split_sends_each_row_to_exactly_one_feed() -> None:
    table = pa.table({"department": ["甲", "乙", "甲", "丙"], "n": ["1", "2", "3", "4"]})
    feeds = [Feed("admin_records", "a.jsonl", where=("department", "甲")), Feed("admin_records", "b.csv")]
    first, rest = split(table, feeds)
    assert first["n"].to_pylist() == ["1", "3"]
    assert rest["n"].to_pylist() == ["2", "4"]


@pytest.mark.parametrize(("fmt", "encoding"), [("csv", "utf-8"), ("csv", "gb18030"), ("jsonl", "utf-8"),
                                               ("jsonl", "gb18030"), ("parquet", "utf-8")])
def test_awkward_cells_survive_every_format(tmp_path: Path, fmt: str, encoding: str) -> None:
    values = ["plain", "", 'a "quoted", comma', "反斜杠\\ 与 tab\t", "郑州市（金水区）"]
    feed = Feed("list_entries", f"feed.{fmt}", format=fmt, encoding=encoding, columns={"原因": "reason"})
    write_feed(pa.table({"entry_id": [str(k) for k in range(len(values))], "reason": values}), feed, tmp_path)
    back = read_feed(tmp_path, feed.manifest_entry())
    assert back["reason"].tolist() == values
    assert back.columns.tolist() == ["entry_id", "reason", "_broken"]
    assert not back["_broken"].any()


def test_a_feed_in_an_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format"):
        write_feed(pa.table({"a": ["1"]}), Feed("judicial", "j.parquet", format="parquet", encoding="gb18030"),
                   tmp_path)
