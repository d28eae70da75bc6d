"""The columnar building blocks of the fast profile path, on tiny hand-made sources."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from features.profile_columns import Encoded, _sort_order, change, month_numbers, month_of, months_since, ratio

D = pd.Timestamp("2024-06-30")


def _social(rows: list[tuple[str, str, float | None, str, str | None]]) -> Encoded:
    """Social-insurance rows (uscc, period, arrears, available_on, superseded_on) for enterprises A and B."""
    frame = pd.DataFrame(rows, columns=["uscc", "period", "arrears", "available_on", "_superseded_on"])
    for column in ("period", "available_on", "_superseded_on"):
        frame[column] = pd.to_datetime(frame[column])
    frame["arrears"] = frame["arrears"].astype(float)
    return Encoded.of(frame, "social_insurance_monthly", pd.Index(["A", "B"]), ("arrears",))


@pytest.fixture
def social() -> Encoded:
    return _social([
        ("B", "2024-05", 10.0, "2024-06-10", None),
        ("A", "2024-04", None, "2024-05-10", None),
        ("A", "2024-05", 5.0, "2024-06-10", "2024-06-20"),  # corrected on 20 June …
        ("A", "2024-05", 7.0, "2024-06-20", None),  # … by this version
        ("A", "2024-06", 1.0, "2024-07-10", None),  # arrives after d
        ("Z", "2024-05", 3.0, "2024-06-10", None),  # not in the registry
    ])


def test_rows_are_ordered_by_enterprise_and_month_and_strangers_dropped(social: Encoded) -> None:
    assert social.enterprise.tolist() == [0, 0, 0, 0, 1]
    april = month_of(pd.Timestamp("2024-04-30"))
    assert social["month"].tolist() == [april, april + 1, april + 1, april + 2, april + 1]


def test_held_sees_the_correction_from_its_arrival_only(social: Encoded) -> None:
    held = social.held(D)
    assert social["arrears"][held].tolist()[1:] == [7.0, 10.0] and math.isnan(social["arrears"][held][0])
    before = social.held(pd.Timestamp("2024-06-15"))
    assert 5.0 in social["arrears"][before].tolist() and 7.0 not in social["arrears"][before].tolist()


def test_sums_of_reported_values_are_unknown_when_nothing_is_reported(social: Encoded) -> None:
    held = social.held(D)
    april = social.in_months(held, D, 2, 2)
    assert np.isnan(social.sum_reported(social["arrears"], april)).all()  # A's April is empty, B has none
    assert social.total(social["arrears"], april).tolist() == [0.0, 0.0]
    assert social.sum_reported(social["arrears"], held).tolist() == [7.0, 10.0]
    assert social.count(held).tolist() == [2.0, 1.0] and social.reported(social["arrears"], held).tolist() == [1, 1]


def test_last_first_maximum_and_month_lookup(social: Encoded) -> None:
    held = social.held(D)
    assert social.last(social["arrears"], held).tolist() == [7.0, 10.0]
    assert np.isnan(social.first(social["arrears"], held)[0])
    assert social.maximum(social["arrears"], held).tolist() == [7.0, 10.0]  # skips A's empty month
    wanted = np.array([month_of(pd.Timestamp("2024-04-01")), np.nan])
    assert np.isnan(social.at_month(social["arrears"], held, wanted)).all()  # empty value, and no month asked
    assert social.distinct_months(held).tolist() == [2.0, 1.0]


def test_variation_needs_three_reported_values() -> None:
    rows = [("A", f"2024-0{m}", v, "2024-06-20", None) for m, v in zip(range(1, 5), (100.0, 200.0, None, 300.0),
                                                                        strict=True)]
    rows.append(("B", "2024-01", 5.0, "2024-06-20", None))
    social = _social(rows)
    cv = social.variation(social["arrears"], social.held(D))
    assert cv[0] == pytest.approx(np.std([100, 200, 300]) / 200) and math.isnan(cv[1])


def test_ratio_change_and_months_since_keep_missing_missing() -> None:
    assert np.isnan(ratio(np.array([1.0]), np.array([0.0]))).all()
    assert change(np.array([np.nan, 30.0, 30.0]), np.array([10.0, 10.0, 0.0])).tolist()[1] == pytest.approx(2.0)
    assert np.isnan(change(np.array([np.nan]), np.array([10.0]))).all()
    stamps = np.array([pd.Timestamp("2024-03-31").value, np.iinfo(np.int64).min])
    assert months_since(D, stamps)[0] == pytest.approx(91 / 30.4375) and math.isnan(months_since(D, stamps)[1])
    assert month_numbers(pd.Series(pd.to_datetime(["1970-01-01", "2024-06-01"]))).tolist() == [0, month_of(D)]


def test_rows_out_of_order_sort_as_lexsort_does() -> None:
    rng = np.random.default_rng(3)
    day = 86_400 * 10**9
    for timed in (False, True):
        enterprise = rng.integers(0, 50, 2_000)
        dates = rng.integers(-400, 400, 2_000) * day + (rng.integers(1, 5, 2_000) * 3_600 * 10**9 if timed else 0)
        dates[rng.random(2_000) < 0.1] = np.iinfo(np.int64).min  # missing dates sort first
        assert (_sort_order(enterprise, dates) == np.lexsort((dates, enterprise))).all()
