"""bench/results.py writes one JSON line per figure only when asked; bench/report.py keeps each bench's outcome
beside the page, merges a later ``--only`` run into it, and renders targets, dates and load plainly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.report import Outcome, keep, load_entries, main, results_path
from bench.results import ENV, record


def outcome(script: str, status: int | None, figures: list[dict[str, object]], *, date: str, commit: str,
            size: str = "quick", load: float = 1.5, tail: list[str] | None = None) -> Outcome:
    return Outcome(script, ["python", f"bench/{script}.py"], status, 12.0, figures, tail or [], size, date, commit,
                   [load, load, load], [load + 1, load, load],
                   {"cpu": "Test CPU", "cores": "2", "memory": "8.0 GiB", "system": "Linux", "python": "3.11"})


def figure(name: str, value: float, target: float | None = None, comparison: str | None = None,
           met: bool | None = None) -> dict[str, object]:
    return {"name": name, "value": value, "unit": "x", "target": target, "comparison": comparison, "met": met,
            "note": ""}


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


def test_page_names_size_machine_targets_and_benches_without_figures(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    csv = figure("csv rows/s", 250_000.0, 300_000.0, ">=", False)
    entries: dict[str, Outcome] = {}
    keep(out, outcome("ingest_throughput", 1, [csv], date="2026-12-04 18:00 UTC", commit="abc1234"), entries)
    keep(out, outcome("api_fuzz", 0, [], date="2026-12-04 18:05 UTC", commit="abc1234",
                      tail=["total: 0 failures"]), entries)
    page = out.read_text(encoding="utf-8")

    assert "## quick size" in page and "Test CPU, 2 cores, 8.0 GiB memory" in page
    assert "| data-sources | ingest_throughput | csv rows/s | 250,000 | x | ≥ 300,000 | **missed** |" in page
    assert "exit 1 (a target missed)" in page
    assert "| api | api_fuzz | *no recorded figures* | | | | ok |" in page
    assert "total: 0 failures" in page
    assert "Not run yet: profile_build," in page and "api_soak." in page
    assert "Speed probe" not in page  # outcomes kept from before the probe have none to show


def test_a_section_shows_the_speed_probe_before_and_after_its_bench(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    probed = outcome("audit_chain", 0, [figure("appends a second", 900.0)], date="2026-12-06 01:00 UTC",
                     commit="cccc333")
    probed.probe_start, probed.probe_end = 0.0961, 0.1874
    keep(out, probed, {})
    page = out.read_text(encoding="utf-8")
    assert "0.096 at the start, 0.187 at the end." in page
    assert load_entries(results_path(out))["audit_chain"].probe_end == 0.1874


def test_only_replaces_its_bench_and_keeps_the_others_with_their_own_date_commit_and_load(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    first: dict[str, Outcome] = {}
    keep(out, outcome("scoring_latency", 0, [figure("single profile ratio", 1.07, 1.2, "<=", True)],
                      date="2026-12-04 18:00 UTC", commit="aaaa111", load=17.0), first)
    keep(out, outcome("api_soak", 0, [figure("errors", 0.0, 0.0, "<=", True)],
                      date="2026-12-04 18:30 UTC", commit="aaaa111", load=16.0), first)

    # a later `--only scoring_latency --size full`: the entries are read back from the JSON beside the page
    later = load_entries(results_path(out))
    assert set(later) == {"scoring_latency", "api_soak"}
    keep(out, outcome("scoring_latency", 0, [figure("single profile ratio", 1.31, 1.2, "<=", False)],
                      date="2026-12-04 20:10 UTC", commit="bbbb222", size="full", load=0.4), later)

    kept = json.loads(results_path(out).read_text(encoding="utf-8"))["benches"]
    assert list(kept) == ["scoring_latency", "api_soak"]  # bench order, not the order they ran in
    assert kept["scoring_latency"]["commit"] == "bbbb222" and kept["scoring_latency"]["load_start"] == [0.4] * 3
    assert kept["api_soak"]["date"] == "2026-12-04 18:30 UTC" and kept["api_soak"]["load_start"] == [16.0] * 3
    page = out.read_text(encoding="utf-8")
    assert "1.07" not in page and "| scoring | scoring_latency (full) | single profile ratio | 1.31 |" in page
    assert "| reliability | api_soak (quick) | errors | 0 |" in page
    assert "## mixed sizes" in page
    assert ("Full size, run 2026-12-04 20:10 UTC at commit `bbbb222`; load average (1, 5, 15 min) 0.4 0.4 0.4 at "
            "the start") in page
    assert ("Quick size, run 2026-12-04 18:30 UTC at commit `aaaa111`; load average (1, 5, 15 min) 16.0 16.0 16.0 "
            "at the start") in page


@pytest.mark.slow
def test_only_runs_a_real_bench_and_merges_it_into_the_kept_entries(tmp_path: Path) -> None:
    """``--only audit_chain`` at quick size in a child process (the chain on temporary databases, seconds): its
    figures, date, commit and load join the entry kept from an earlier run, which stays as it was."""
    out = tmp_path / "benchmarks.md"
    earlier = outcome("api_soak", 0, [figure("errors", 0.0, 0.0, "<=", True)], date="2026-12-04 18:30 UTC",
                      commit="aaaa111", load=16.0)
    keep(out, earlier, {})

    status = main(["--size", "quick", "--only", "audit_chain", "--out", str(out)])

    entries = load_entries(results_path(out))
    assert status == 0 and set(entries) == {"audit_chain", "api_soak"}
    chain = entries["audit_chain"]
    assert chain.status == 0 and chain.size == "quick" and len(chain.load_start) == 3 and chain.commit
    assert chain.probe_start is not None and chain.probe_start > 0 and chain.probe_end is not None
    assert "sqlite: audit append p50" in [f["name"] for f in chain.figures]
    assert all(f["bench"] == "audit_chain" and f["value"] > 0 for f in chain.figures)
    assert entries["api_soak"] == earlier
    page = out.read_text(encoding="utf-8")
    assert "| api | audit_chain | sqlite: rows verified a second |" in page and "### api_soak" in page
