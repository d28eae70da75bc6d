"""Property tests of the profile fast path: the slow reference on generated records, no leakage, pairs.

The records come from ``tests.features.profile_strategies`` (all ten sources, drawn around the as-of date so
late filings, corrections, publication ends, repairs and removals sit on their edges); the expected values from
``tests.features.profile_reference``, written independently from the catalogue's definitions.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.catalogue import FEATURE_NAMES
from features.profiles import SourceTables, profile_as_of, profiles_for_pairs
from tests.features.profile_reference import is_open, profile_from_records, records_by_enterprise
from tests.features.profile_strategies import Scenario, later_records, pair_requests, scenarios, tables_from_rows

PROPERTY = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
COLUMNS = ["uscc", "as_of", *FEATURE_NAMES]


def same(got: float, want: float) -> bool:
    """NaN equals NaN; numbers agree within rel 1e-9, abs 1e-9."""
    if math.isnan(got) or math.isnan(want):
        return math.isnan(got) and math.isnan(want)
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)


def by_uscc(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["uscc", "as_of"]).reset_index(drop=True)


@PROPERTY
@given(scenarios())
def test_the_fast_path_equals_the_reference_for_every_feature(scenario: Scenario) -> None:
    as_of = scenario.as_of
    fast = profile_as_of(scenario.tables, as_of)
    assert list(fast.columns) == COLUMNS
    assert all(fast[name].dtype == np.float64 for name in FEATURE_NAMES)
    assert (fast["as_of"] == as_of).all()
    grouped = records_by_enterprise(scenario.tables)
    expected_open = sorted(u for u, records in grouped.items() if is_open(records, as_of))
    assert sorted(fast["uscc"]) == expected_open, f"enterprises open on {as_of:%Y-%m-%d}"
    rows = fast.set_index("uscc")
    wrong = []
    for uscc in expected_open:
        want = profile_from_records(grouped[uscc], as_of)
        for name in FEATURE_NAMES:
            got = float(rows.at[uscc, name])
            if not same(got, want[name]):
                wrong.append(f"{name} of {uscc} as of {as_of:%Y-%m-%d}: fast path {got!r}, reference {want[name]!r}")
    assert not wrong, "\n".join(wrong)


@settings(PROPERTY, max_examples=100)
@given(st.data())
def test_records_that_arrive_after_the_as_of_date_change_no_feature(data: st.DataObject) -> None:
    scenario = data.draw(scenarios(), label="scenario")
    extended = data.draw(later_records(scenario), label="rows with later arrivals")
    before = by_uscc(profile_as_of(scenario.tables, scenario.as_of))
    after = by_uscc(profile_as_of(tables_from_rows(extended), scenario.as_of))
    pd.testing.assert_frame_equal(after, before)


@settings(PROPERTY, max_examples=60)
@given(st.data())
def test_profiles_for_pairs_are_the_rows_of_profile_as_of(data: st.DataObject) -> None:
    scenario = data.draw(scenarios(), label="scenario")
    pairs = data.draw(pair_requests(scenario), label="pairs")
    tables: SourceTables = scenario.tables
    got = profiles_for_pairs(tables, pairs)
    assert list(got.columns) == COLUMNS
    wanted = set(zip(pairs["uscc"], pairs["as_of"], strict=True))
    each_date = pd.concat([profile_as_of(tables, pd.Timestamp(d)) for d in pairs["as_of"].unique()], ignore_index=True)
    keep = np.array([(u, d) in wanted for u, d in zip(each_date["uscc"], each_date["as_of"], strict=True)], dtype=bool)
    pd.testing.assert_frame_equal(by_uscc(got), by_uscc(each_date.loc[keep]))
