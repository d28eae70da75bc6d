"""SIGKILL in the middle of a profile snapshot build, and of loading one into the service database."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import func, select

from api.db import make_engine, migrate
from api.db.models import EnterpriseProfile
from api.repository import refresh_profiles, upsert_enterprises
from features.ingest import current, load_accepted
from features.snapshots import latest_snapshot, list_snapshots
from tests.reliability.conftest import Region, crash_at, hidden_leftovers, run_to_end

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("pause", "nth", "after", "match", "previous_kept"),
    [
        ("features.snapshots:_PartitionJob.__call__", 2, True, None, True),  # one part of four written
        ("features.snapshots:_swap", 1, False, None, True),  # parts and manifest staged, nothing swapped
        ("shutil:rmtree", 1, False, ".staging-", False),  # swapped in one step, the old snapshot not yet removed
    ],
    ids=["mid-partitions", "before-swap", "after-swap"],
)
def test_killed_snapshot_build_leaves_one_whole_snapshot_and_reruns(
    region: Region, pause: str, nth: int, after: bool, match: str | None, previous_kept: bool
) -> None:
    root = region.root / "snapshots"
    previous = latest_snapshot(root)
    assert previous is not None
    sentinel = previous.path / ".previous-build"  # only the previous snapshot holds it
    sentinel.touch()
    frame = previous.read()
    command = ["snapshot", str(region.root / "ingest"), str(root), str(previous.as_of.date())]

    crash_at(command, region.env, root, pause=pause, nth=nth, after=after, match=match)

    served = latest_snapshot(root)
    assert served is not None and served.path == previous.path
    assert sentinel.exists() == previous_kept
    assert (served.created_at == previous.created_at) == previous_kept
    pd.testing.assert_frame_equal(served.read(), frame)
    assert served.rows == len(frame) and len(list_snapshots(root)) == 1
    leftovers = hidden_leftovers(root / previous.path.parent.name)
    assert all(".staging-" in name or ".partitions-" in name for name in leftovers)

    run_to_end(command, region.env)
    assert hidden_leftovers(root / previous.path.parent.name) == []  # the re-run removed the killed build's folders
    rebuilt = latest_snapshot(root)
    assert rebuilt is not None and not sentinel.exists()
    assert rebuilt.created_at >= previous.created_at
    pd.testing.assert_frame_equal(rebuilt.read(), frame)  # same input, same profiles: nothing twice
    assert not rebuilt.read()["uscc"].duplicated().any()


def test_killed_profile_refresh_keeps_the_served_profiles(region: Region, database_url: str) -> None:
    """Killed after the old profiles were deleted and the first new ones inserted, before the commit."""
    snapshot = latest_snapshot(region.root / "snapshots")
    assert snapshot is not None
    new = snapshot.read()
    old = new.assign(as_of=new["as_of"] - pd.DateOffset(months=1)).iloc[: len(new) // 2]
    newer = region.root / "newer-profiles.parquet"
    new.to_parquet(newer, index=False)
    migrate(database_url)
    engine = make_engine(database_url)
    try:
        upsert_enterprises(engine, current(load_accepted(region.root / "ingest", "registration")).to_dict("records"))
        refresh_profiles(engine, old)
        command = ["refresh", database_url, str(newer)]

        crash_at(command, region.env, region.root, pause_sql="INSERT INTO enterprise_profiles")

        def served() -> tuple[int, set]:
            with engine.connect() as connection:
                count = connection.scalar(select(func.count()).select_from(EnterpriseProfile))
                days = set(connection.scalars(select(EnterpriseProfile.as_of).distinct()))
            return int(count or 0), days

        assert served() == (len(old), {d.date() for d in old["as_of"]})
        run_to_end(command, region.env)
        assert served() == (len(new), {d.date() for d in new["as_of"]})
    finally:
        engine.dispose()
