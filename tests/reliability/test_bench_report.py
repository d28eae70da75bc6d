"""bench/results.py writes one JSON line per figure only when asked; bench/report.py renders targets plainly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.report import BENCHES, Outcome, render
from bench.results import ENV, record


def test_record_appends_judged_figures_only_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    record("ignored", 1.0, "s")  # no file named: nothing written, nothing raised
    results = tmp_path / "results.jsonl"
    monkeypatch.setenv(ENV, str(results))

    record("parquet rows/s", 1_200_000, "rows/s", 1_000_000, ">=")
    record("peak memory", 9.5, "GiB", 8.0, "<=")
    record("AUC", 0.71, "AUC")

    lines = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    assert [(f["name"], f["met"]) for f in lines] == [("parquet rows/s", True), ("peak memory", False), ("AUC", None)]
    with pytest.raises(ValueError, match="comparison"):
        record("half a target", 1.0, "s", target=2.0)


def test_page_names_size_machine_targets_and_benches_without_figures() -> None:
    ingest, fuzz = BENCHES[0], next(b for b in BENCHES if b.script == "api_fuzz")
    figures = [{"name": "csv rows/s", "value": 250_000.0, "unit": "rows/s", "target": 300_000.0, "comparison": ">=",
                "met": False, "note": ""}]
    page = render([Outcome(ingest, ["python", "bench/ingest_throughput.py"], 1, 12.0, figures, []),
                   Outcome(fuzz, ["python", "bench/api_fuzz.py"], 0, 3.0, [], ["total: 0 failures"])],
                  "quick", "")

    assert "## quick size, shared machine" in page and "cores" in page and "memory" in page
    assert "| data-sources | ingest_throughput | csv rows/s | 250,000 | rows/s | ≥ 300,000 | **missed** |" in page
    assert "| api | api_fuzz | *no recorded figures* | | | | ok |" in page
    assert "total: 0 failures" in page
