"""Chinese working days: deadlines across the 2026 Spring Festival and National Day, against a slow reference."""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import numpy as np
import pandas as pd
import pytest

from features.calendar import (
    CalendarNotCoveredError,
    _table,
    covered_range,
    is_working_day,
    publication_deadline,
    working_days_between,
)


def _reference_deadline(decision: dt.date, working_days: int = 7) -> dt.date:
    """Slow and obvious: step day by day, counting the days chinesecalendar calls working days."""
    day, counted = decision, 0
    while counted < working_days:
        day += dt.timedelta(days=1)
        counted += chinese_calendar.is_workday(day)
    return day


def test_the_package_has_the_2026_spring_festival_this_test_relies_on() -> None:
    # Holiday 2026-02-15 .. 23 with make-up working Saturdays 2026-02-14 and 2026-02-28, as the package has it.
    holiday = pd.date_range("2026-02-15", "2026-02-23")
    assert not any(chinese_calendar.is_workday(day.date()) for day in holiday)
    assert chinese_calendar.is_workday(dt.date(2026, 2, 14)) and chinese_calendar.is_workday(dt.date(2026, 2, 28))


@pytest.mark.parametrize(
    ("decision", "deadline", "why"),
    [
        ("2026-03-10", "2026-03-19", "plain week: Wed 11 .. Fri 13, Mon 16 .. Thu 19"),
        ("2026-02-13", "2026-03-02", "Friday before Spring Festival: Sat 14 (调休), 24 .. 27, Sat 28 (调休), Mon 2"),
        ("2026-02-12", "2026-02-28", "deadline on the make-up Saturday 28: Fri 13, Sat 14, 24 .. 28"),
        ("2026-02-16", "2026-03-03", "decided in the holiday: first working day counted is Tue 24"),
        ("2026-09-30", "2026-10-15", "National Day week 1 .. 7: Thu 8, Fri 9, Sat 10 (调休), Mon 12 .. Thu 15"),
    ],
)
def test_publication_deadline_is_the_seventh_working_day_after_the_decision(decision: str, deadline: str,
                                                                            why: str) -> None:
    assert publication_deadline(decision) == pd.Timestamp(deadline), why
    assert working_days_between(decision, deadline) == 7


def test_make_up_saturday_counts_and_holiday_weekday_does_not() -> None:
    days = ["2026-02-14", "2026-02-16", "2026-02-21", "2026-02-28", "2026-10-10", "2026-10-11", "2026-03-10"]
    assert is_working_day(days).tolist() == [True, False, False, True, True, False, True]
    assert is_working_day(dt.date(2026, 2, 14)) is True


def test_publication_is_on_time_on_the_deadline_and_late_the_next_working_day() -> None:
    decided = pd.Timestamp("2026-02-13")
    deadline = publication_deadline(decided)
    assert pd.Timestamp("2026-03-02") <= deadline  # published Monday 2 March: on time
    assert working_days_between(decided, "2026-03-03") == 8  # Tuesday: late by one working day
    assert working_days_between("2026-03-03", decided) == -8


def test_series_keeps_its_index_and_name_and_nat_stays_nat() -> None:
    decisions = pd.Series(pd.to_datetime(["2026-02-13", "NaT", "2026-09-30"]), index=[10, 11, 12], name="decided")
    deadlines = publication_deadline(decisions)
    expected = pd.Series(pd.to_datetime(["2026-03-02", "NaT", "2026-10-15"]), index=[10, 11, 12], name="decided")
    pd.testing.assert_series_equal(deadlines, expected)
    counts = working_days_between(decisions, deadlines)
    assert counts[0] == 7 and np.isnan(counts[1]) and counts[2] == 7


def test_vectorised_deadlines_match_the_day_by_day_reference() -> None:
    rng = np.random.default_rng(7)
    first, _ = covered_range()
    offsets = rng.integers(0, (dt.date(2026, 12, 1) - first).days, size=400)
    decisions = [first + dt.timedelta(days=int(o)) for o in offsets]
    fast = publication_deadline(np.array(decisions, dtype="datetime64[D]"))
    assert [pd.Timestamp(d).date() for d in fast] == [_reference_deadline(d) for d in decisions]


def test_dates_outside_the_package_years_raise_a_clear_error_or_coerce_to_nat() -> None:
    first, last = covered_range()
    assert first.year <= 2004 and last.year >= 2026
    before = first - dt.timedelta(days=1)
    with pytest.raises(CalendarNotCoveredError, match="upgrade chinesecalendar"):
        publication_deadline([before])
    with pytest.raises(CalendarNotCoveredError, match="deadline"):
        publication_deadline(last)  # the deadline would fall in the next, uncovered year
    coerced = publication_deadline([before, last, "2026-02-13"], errors="coerce")
    assert np.isnat(coerced[0]) and np.isnat(coerced[1]) and coerced[2] == np.datetime64("2026-03-02")
    assert np.isnan(working_days_between(before, "2026-02-13", errors="coerce"))


def test_working_days_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        publication_deadline("2026-02-13", working_days=0)


def test_the_working_day_table_agrees_with_the_package_on_every_covered_day() -> None:
    first, last = covered_range()
    days = pd.date_range(first, last, freq="D")
    asked = np.array([chinese_calendar.is_workday(day.date()) for day in days])
    table = _table()
    assert len(table.ordinal) == len(days)
    assert np.array_equal(np.diff(table.ordinal, prepend=0) == 1, asked)
