"""Registration and event records: corrections as later versions of the same key, 双公示 timing, and signal."""

from __future__ import annotations

import pandas as pd
import pytest

from features.calendar import working_days_between
from features.schemas import SOURCES, SOURCES_BY_NAME
from features.synthetic import RegionFiles
from tests.features.synthetic.conftest import dirty_rows, feed_rows
from tests.features.synthetic.reference import manifest

EXTRACTED_ON = "2026-10-31"


def _versions(rows: pd.DataFrame, key: list[str], available: str) -> pd.DataFrame:
    """Rows whose key was delivered more than once, in order of arrival."""
    return rows[rows.duplicated(key, keep=False)].sort_values([*key, available])


@pytest.mark.parametrize(("source", "changed"), [
    ("registration", "status_on"), ("admin_records", "status"), ("judicial", "removed_on"),
    ("list_entries", "exited_on"), ("commitments", "fulfilment"),
])
def test_a_change_arrives_as_a_later_version_of_the_same_key(region: RegionFiles, source: str, changed: str) -> None:
    spec = SOURCES_BY_NAME[source]
    rows = feed_rows(region, source)
    versions = _versions(rows, list(spec.key), spec.available)
    assert len(versions) > 0, source
    for _, group in versions.groupby(list(spec.key)):
        assert len(group) == 2
        first, second = group.iloc[0], group.iloc[1]
        assert first[spec.available] < second[spec.available]
        assert first[changed] != second[changed]


def test_versions_say_what_changed(region: RegionFiles) -> None:
    registration = feed_rows(region, "registration")
    later = _versions(registration, ["uscc"], "available_on").groupby("uscc").nth(1)
    assert set(later["status"]) == {"注销", "吊销"}
    assert (later["available_on"] > later["status_on"]).all()
    assert (registration["available_on"] >= registration["founded_on"]).all()
    admin = feed_rows(region, "admin_records")
    repaired = admin[admin["status"] == "已修复"]
    assert len(repaired) > 0 and (repaired["available_on"] >= repaired["repaired_on"]).all()
    assert set(admin.loc[admin["kind"] == "处罚", "status"]) == {"有效", "已修复", "已撤销"}
    assert (admin.loc[admin["kind"] != "处罚", ["severity", "amount", "status"]] == "").all().all()
    judicial = feed_rows(region, "judicial")
    removed = judicial[judicial["removed_on"] != ""]
    assert (removed["available_on"] > removed["removed_on"]).all()
    commitments = feed_rows(region, "commitments")
    last = commitments.drop_duplicates("commitment_id", keep="last")
    assert {"kept", "broken", "pending"} == set(last["fulfilment"])


def test_nothing_arrives_after_extraction_but_the_future_date_spoils(region: RegionFiles) -> None:
    truth = dirty_rows(region)
    future = set(zip(truth.loc[truth["rule"] == "date.future", "file"],
                     truth.loc[truth["rule"] == "date.future", "line"], strict=True))
    for spec in SOURCES:
        rows = feed_rows(region, spec.name, clean=False)
        available = rows[spec.available]
        late = rows[available.str.fullmatch(r"\d{4}-\d{2}-\d{2}") & (available > EXTRACTED_ON)]
        assert set(zip(late["_file"], late["_line"], strict=True)) <= future, spec.name
        dates = [c.name for c in spec.columns if c.kind in ("date", "period", "year")]
        clean = feed_rows(region, spec.name)
        assert (clean[dates] <= EXTRACTED_ON).all().all(), spec.name
    assert len(future) > 0


def test_publication_is_on_time_for_almost_every_decision(region: RegionFiles) -> None:
    admin = feed_rows(region, "admin_records").drop_duplicates("record_id")
    published = admin[admin["published_on"] != ""]
    delay = working_days_between(published["decision_date"].to_numpy(), published["published_on"].to_numpy())
    late = delay > 7
    assert (delay >= 1).all()
    assert 0.015 < late.mean() < 0.05
    assert 0.001 < (admin["published_on"] == "").mean() < 0.012
    unpublished = admin[admin["published_on"] == ""]
    assert (unpublished["available_on"] > unpublished["decision_date"]).all()
    first_versions = published["status"].isin(["", "有效"])
    assert (published.loc[first_versions, "available_on"] == published.loc[first_versions, "published_on"]).all()


def test_the_two_admin_feeds_split_by_department(region: RegionFiles) -> None:
    feeds = [f for f in manifest(region.raw_dir)["feeds"] if f["source"] == "admin_records"]
    admin = feed_rows(region, "admin_records")
    market = admin[admin["_file"] == feeds[0]["path"]]
    other = admin[admin["_file"] == feeds[1]["path"]]
    assert set(market["department"]) == {feeds[0]["department"]}
    assert feeds[0]["department"] not in set(other["department"])
    assert not set(market["record_id"]) & set(other["record_id"])


def test_broken_commitments_and_lists_follow_defaults(region: RegionFiles) -> None:
    defaulters = set(pd.read_csv(region.outcomes_path, dtype=str)["uscc"])
    outcome = feed_rows(region, "commitments").drop_duplicates("commitment_id", keep="last")
    resolved = outcome[outcome["fulfilment"] != "pending"]
    broken = resolved["fulfilment"] == "broken"
    defaulted = resolved["uscc"].isin(defaulters)
    assert broken[defaulted].mean() > 2 * broken[~defaulted].mean()
    lists = feed_rows(region, "list_entries").drop_duplicates("entry_id")
    grades = feed_rows(region, "tax_credit_grade")
    assert set(lists.loc[lists["list_name"] == "red", "uscc"]) <= set(grades.loc[grades["grade"] == "A", "uscc"])
    black = lists["list_name"].isin(["black", "abnormal"])
    listed_defaulted = lists["uscc"].isin(defaulters)
    assert black[listed_defaulted].mean() > black[~listed_defaulted].mean()
