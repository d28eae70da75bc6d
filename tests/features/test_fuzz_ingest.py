"""Hostile input to the file parsers: whatever bytes a feed holds, ingest ends in a reconciled report or in an
``IngestError`` naming the file, never in another exception, and a refused run leaves no output behind."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.ingest import IngestError, ingest_region
from features.schemas import SOURCES_BY_NAME
from tests.utils.raw_files import tax_row, write_csv, write_region

pytestmark = [
    pytest.mark.slow,
    # lines whose bytes are not valid in the feed's encoding are now quarantined by line before pyarrow parses
    # them (features.feeds; tests/features/test_ingest_bad_rows.py); the filter stays in case pyarrow's
    # invalid-row callback still reports a decode error it swallowed as an unraisable exception
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

TAX_COLUMNS = SOURCES_BY_NAME["tax_monthly"].column_names
cells = st.one_of(st.text(max_size=12), st.sampled_from(["", "NaN", "-1", "1e400", "2024-13", "９９", "\x00", '"']))
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _ingest_or_refuse(raw: Path) -> None:
    """Ingest ``raw``; the only acceptable failure is an IngestError, and counts must add up otherwise."""
    out = raw.parent / "ingest"
    try:
        summary = ingest_region(raw, out)
    except IngestError as exc:
        assert "do not reconcile" not in str(exc)
        assert not out.exists() and not list(raw.parent.glob(".ingest.staging-*"))
        return
    for report in summary.reports:
        assert report.read == report.accepted + report.quarantined + report.duplicates, report.source
    written = json.loads((out / "reports" / "summary.json").read_text(encoding="utf-8"))
    assert written["total_read"] == summary.total_read


@FUZZ
@given(st.binary(max_size=400), st.booleans())
def test_any_bytes_in_a_csv_feed(body: bytes, with_header: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        raw = write_region(Path(tmp) / "raw")
        header = (",".join(TAX_COLUMNS) + "\n").encode() if with_header else b""
        (raw / SOURCES_BY_NAME["tax_monthly"].filename).write_bytes(header + body)
        _ingest_or_refuse(raw)


@FUZZ
@given(st.lists(st.fixed_dictionaries({name: cells for name in ("uscc", "period", "vat", "filed_on")}), max_size=8))
def test_any_cells_in_a_csv_feed(overrides: list[dict[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        raw = write_region(Path(tmp) / "raw")
        write_csv(raw / SOURCES_BY_NAME["tax_monthly"].filename, TAX_COLUMNS, [tax_row(**o) for o in overrides])
        _ingest_or_refuse(raw)


@FUZZ
@given(st.lists(st.one_of(st.binary(max_size=60), st.dictionaries(st.sampled_from(TAX_COLUMNS), cells).map(
    lambda d: json.dumps(d, ensure_ascii=False).encode())), max_size=6))
def test_any_lines_in_a_json_lines_feed(lines: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        raw = write_region(Path(tmp) / "raw", feeds=[{"source": "tax_monthly", "path": "tax.jsonl"}])
        (raw / "tax.jsonl").write_bytes(b"\n".join(lines) + b"\n")
        _ingest_or_refuse(raw)


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_in_a_parquet_feed(body: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        raw = write_region(Path(tmp) / "raw", feeds=[{"source": "tax_monthly", "path": "tax.parquet",
                                                       "format": "parquet"}])
        (raw / "tax.parquet").write_bytes(b"PAR1" + body + b"PAR1")
        _ingest_or_refuse(raw)
