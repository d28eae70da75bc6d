"""SIGKILL in the middle of an ingest: the previous accepted tables stay in place, whole; a re-run completes."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from features.ingest import load_accepted
from tests.reliability.conftest import Region, crash_at, hidden_leftovers, run_to_end

pytestmark = pytest.mark.slow


def _state(region: Region) -> tuple[dict, dict[str, int]]:
    """The ingest summary and the rows of every accepted table as a reader sees them."""
    out = region.root / "ingest"
    summary = json.loads((out / "reports" / "summary.json").read_text(encoding="utf-8"))
    rows = {source: len(load_accepted(out, source)) for source in summary["sources"]}
    return summary, rows


def _assert_reconciles(summary: dict, rows: dict[str, int]) -> None:
    for source, report in summary["sources"].items():
        assert report["read"] == report["accepted"] + report["quarantined"] + report["duplicates"], source
        assert rows[source] == report["accepted"], source  # every version, corrections included


@pytest.mark.parametrize(
    ("pause", "nth", "match", "previous_kept"),
    [
        ("features.ingest:_ingest_source", 3, None, True),  # two sources staged, the third not begun
        ("features.ingest:_swap_into_place", 1, None, True),  # everything staged, nothing swapped
        ("shutil:rmtree", 1, ".ingest.staging-", False),  # swapped in one step, the old output not yet removed
    ],
    ids=["mid-sources", "before-swap", "after-swap"],
)
def test_killed_ingest_leaves_one_whole_output_and_reruns(region: Region, pause: str, nth: int, match: str | None,
                                                          previous_kept: bool) -> None:
    out = region.root / "ingest"
    sentinel = out / "reports" / ".previous-run"  # only the previous output holds it
    sentinel.touch()
    before = _state(region)
    command = ["ingest", str(region.root / "raw"), str(out)]

    crash_at(command, region.env, region.root, pause=pause, nth=nth, match=match)

    assert sentinel.exists() == previous_kept  # the previous output, or the whole new one: never neither
    assert _state(region) == before
    assert all(name.startswith(".ingest.") for name in hidden_leftovers(region.root))

    run_to_end(command, region.env)
    assert hidden_leftovers(region.root) == []  # the re-run removed the killed ingest's staging folder
    summary, rows = _state(region)
    assert not sentinel.exists()
    assert (summary, rows) == before  # same input, same output: nothing counted twice
    _assert_reconciles(summary, rows)
    registration = load_accepted(out, "registration")
    current = registration[registration["_superseded_on"].isna()]
    assert not current["uscc"].duplicated().any()
    assert isinstance(current["uscc"].iloc[0], str) and len(pd.unique(current["uscc"])) == len(current)
