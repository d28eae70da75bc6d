"""Generated regions shared by the generator's tests, and readers for their feeds with the dirty rows set apart."""

from __future__ import annotations

import pandas as pd
import pytest

from features.synthetic import RegionFiles, generate_region
from tests.features.synthetic.reference import manifest, read_feed

SEED = 42


@pytest.fixture(scope="package")
def region(tmp_path_factory: pytest.TempPathFactory) -> RegionFiles:
    """A region large enough for signal checks (1,500 enterprises)."""
    return generate_region(tmp_path_factory.mktemp("region") / "demo", n_enterprises=1500, seed=SEED)


@pytest.fixture(scope="package")
def small_region(tmp_path_factory: pytest.TempPathFactory) -> RegionFiles:
    """A region small enough for the slow row-by-row reference (400 enterprises)."""
    return generate_region(tmp_path_factory.mktemp("small") / "demo", n_enterprises=400, seed=7)


def dirty_rows(files: RegionFiles) -> pd.DataFrame:
    return pd.read_csv(files.dirty_rows_path, dtype={"line": int}, keep_default_na=False)


def feed_rows(files: RegionFiles, source: str, *, clean: bool = True) -> pd.DataFrame:
    """A source's rows from all its feeds, canonical columns, with ``_file`` and ``_line``; dirty rows left out."""
    frames = []
    for feed in manifest(files.raw_dir)["feeds"]:
        if feed["source"] != source:
            continue
        frame = read_feed(files.raw_dir, feed)
        frame["_file"] = feed["path"]
        frame["_line"] = range(2 if feed["format"] == "csv" else 1, len(frame) + (2 if feed["format"] == "csv" else 1))
        frames.append(frame)
    rows = pd.concat(frames, ignore_index=True)
    if clean:
        dirty = dirty_rows(files)
        spoilt = set(zip(dirty["file"], dirty["line"], strict=True))
        rows = rows[[(f, n) not in spoilt for f, n in zip(rows["_file"], rows["_line"], strict=True)]]
    return rows.reset_index(drop=True)
