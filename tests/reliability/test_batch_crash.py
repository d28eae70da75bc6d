"""SIGKILL in the middle of batch scoring: no half part is ever read, and a re-run finishes the same scores."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from features.snapshots import latest_snapshot
from scoring.batch import MANIFEST, input_files, plan_chunks
from tests.reliability.conftest import Region, crash_at, run_to_end

pytestmark = pytest.mark.slow

CHUNK_ROWS = 200


def _command(region: Region, out: Path) -> list[str]:
    snapshot = latest_snapshot(region.root / "snapshots")
    assert snapshot is not None
    return ["xinyi", "score-batch", str(snapshot.path), str(out), "--chunk-rows", str(CHUNK_ROWS)]


def _chunk_rows(region: Region) -> list[int]:
    """Rows of each chunk, in part order (chunks never span two snapshot part files)."""
    snapshot = latest_snapshot(region.root / "snapshots")
    assert snapshot is not None
    return [c.stop - c.start for c in plan_chunks(input_files(snapshot.path), CHUNK_ROWS)]


def _read(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out).sort_values("uscc", ignore_index=True)


@pytest.mark.parametrize(
    ("pause", "after", "match", "parts_read"),
    [
        ("pyarrow.parquet:write_table", True, ".part-00001.parquet.tmp", 1),  # part 1 written, not yet renamed
        ("os:replace", True, "part-00001.parquet", 2),  # part 1 in place, not yet in the manifest
    ],
    ids=["part-written", "part-renamed"],
)
def test_killed_batch_leaves_whole_parts_and_resumes(region: Region, tmp_path: Path, pause: str, after: bool,
                                                     match: str, parts_read: int) -> None:
    clean = tmp_path / "clean"
    run_to_end(_command(region, clean), region.env)
    out = tmp_path / "scores"

    crash_at(_command(region, out), region.env, tmp_path, pause=pause, after=after, match=match)

    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    sizes = _chunk_rows(region)
    assert manifest["done"] == {"0": sizes[0]} and manifest["complete"] is False
    partial = _read(out)  # a reader sees whole parts only: hidden temporary files are not data
    assert len(partial) == sum(sizes[:parts_read]) and not partial["uscc"].duplicated().any()

    run_to_end(_command(region, out), region.env)
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["complete"] is True
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []
    pd.testing.assert_frame_equal(_read(out), _read(clean))  # every row once, the same as a run never killed
