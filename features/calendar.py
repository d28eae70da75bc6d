"""Chinese working days (工作日): statutory holidays and make-up working days (调休), for 双公示 timeliness.

The days come from the maintained ``chinesecalendar`` package (import name ``chinese_calendar``), never from a
list kept here. Every covered day is classed once, from the package's holiday and make-up day lists, and kept
in a lookup table, so the functions below are plain numpy indexing over any number of dates.

Coverage: only the years the installed package knows (2004–2026 in chinesecalendar 1.11). A date outside them,
or a deadline that would fall outside them, raises ``CalendarNotCoveredError`` by default; with
``errors="coerce"`` it gives NaT (or NaN for counts) instead, as ``pandas.to_datetime`` does. A missing input
date (NaT) always gives NaT/NaN. Upgrade the package when the State Council publishes next year's holidays.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, TypeAlias, overload

import chinese_calendar
import numpy as np
import pandas as pd

Errors: TypeAlias = Literal["raise", "coerce"]
DateScalar: TypeAlias = dt.date | pd.Timestamp | np.datetime64 | str
DateArray: TypeAlias = pd.Series | pd.DatetimeIndex | np.ndarray | list

PUBLICATION_WORKING_DAYS = 7  # 双公示: licences and penalties are published within 7 working days of the decision

_DAY = np.timedelta64(1, "D")


class CalendarNotCoveredError(ValueError):
    """A date, or the deadline computed from it, lies in a year the installed ``chinesecalendar`` does not cover."""


@dataclass(frozen=True)
class _WorkingDayTable:
    """Every covered day with its working-day ordinal: how many working days fall on or before it."""

    first_day: np.datetime64
    ordinal: np.ndarray  # int64, one per covered day
    working_days: np.ndarray  # datetime64[D], the working days in order; working_days[k] has ordinal k + 1

    @property
    def last_day(self) -> np.datetime64:
        return self.first_day + (len(self.ordinal) - 1) * _DAY


@lru_cache(maxsize=1)
def _table() -> _WorkingDayTable:
    years = [day.year for day in chinese_calendar.holidays]
    first, last = np.datetime64(f"{min(years)}-01-01", "D"), np.datetime64(f"{max(years)}-12-31", "D")
    days = np.arange(first, last + _DAY, _DAY)
    # chinese_calendar.is_workday, for every day at once: a make-up working day, or Monday to Friday and no holiday
    is_working = ((days.astype("datetime64[D]").view("int64") + 3) % 7) < 5  # 1970-01-01 was a Thursday
    is_working[np.isin(days, np.array(list(chinese_calendar.holidays), dtype="datetime64[D]"))] = False
    is_working[np.isin(days, np.array(list(chinese_calendar.workdays), dtype="datetime64[D]"))] = True
    return _WorkingDayTable(first, np.cumsum(is_working, dtype=np.int64), days[is_working])


def covered_range() -> tuple[dt.date, dt.date]:
    """The first and last day the installed ``chinesecalendar`` covers."""
    table = _table()
    return table.first_day.astype(dt.date), table.last_day.astype(dt.date)


def _is_single(values: DateScalar | DateArray) -> bool:
    return isinstance(values, dt.date | np.datetime64 | str)  # datetime and pd.Timestamp are dates too


def _days(values: DateScalar | DateArray) -> np.ndarray:
    """Any dates as a 1-d datetime64[D] array (times of day dropped, NaT kept)."""
    if isinstance(values, pd.Series | pd.Index) or (isinstance(values, np.ndarray) and values.dtype.kind == "M"):
        stamps = np.asarray(pd.to_datetime(np.asarray(values)), dtype="datetime64[ns]")
    else:
        stamps = np.asarray(pd.to_datetime(np.atleast_1d(np.asarray(values, dtype=object)).ravel()),
                            dtype="datetime64[ns]")
    return stamps.ravel().astype("datetime64[D]")


def _positions(days: np.ndarray, errors: Errors) -> tuple[np.ndarray, np.ndarray]:
    """Each day's row in the table and whether it can be used (present and covered)."""
    table = _table()
    present = ~np.isnat(days)
    offset = np.where(present, (days - table.first_day).astype(np.int64), 0)
    usable = present & (offset >= 0) & (offset < len(table.ordinal))
    _refuse_uncovered(days[present & ~usable], errors)
    return np.where(usable, offset, 0), usable


def _refuse_uncovered(days: np.ndarray, errors: Errors, what: str = "dates lie") -> None:
    if errors == "raise" and len(days):
        first, last = covered_range()
        shown = ", ".join(str(day) for day in np.unique(days)[:5])
        raise CalendarNotCoveredError(
            f"{len(days)} {what} outside the Chinese working-day calendar ({first} to {last}), e.g. {shown}; "
            f"upgrade chinesecalendar, or pass errors='coerce' to get NaT")


def _shaped_dates(result: np.ndarray, like: DateScalar | DateArray) -> pd.Timestamp | pd.Series | np.ndarray:
    out = result.astype("datetime64[ns]")
    if isinstance(like, pd.Series):
        return pd.Series(out, index=like.index, name=like.name)
    if _is_single(like):
        return pd.Timestamp(out[0])
    return out


@overload
def is_working_day(dates: DateScalar, *, errors: Errors = "raise") -> bool: ...
@overload
def is_working_day(dates: DateArray, *, errors: Errors = "raise") -> np.ndarray: ...
def is_working_day(dates: DateScalar | DateArray, *, errors: Errors = "raise") -> bool | np.ndarray:
    """Whether each day is a Chinese working day (a make-up 调休 weekend counts; NaT and coerced days are False)."""
    days = _days(dates)
    position, usable = _positions(days, errors)
    table = _table()
    previous = np.where(position > 0, table.ordinal[position - 1], 0)
    working = usable & (table.ordinal[position] > previous)
    return bool(working[0]) if _is_single(dates) else working


@overload
def publication_deadline(decision_dates: pd.Series, working_days: int = ..., *,
                         errors: Errors = "raise") -> pd.Series: ...
@overload
def publication_deadline(decision_dates: DateScalar, working_days: int = ..., *,
                         errors: Errors = "raise") -> pd.Timestamp: ...
@overload
def publication_deadline(decision_dates: pd.DatetimeIndex | np.ndarray | list, working_days: int = ..., *,
                         errors: Errors = "raise") -> np.ndarray: ...
def publication_deadline(decision_dates: DateScalar | DateArray, working_days: int = PUBLICATION_WORKING_DAYS, *,
                         errors: Errors = "raise") -> pd.Timestamp | pd.Series | np.ndarray:
    """The last day a decision may be published: the ``working_days``-th working day after the decision day.

    The decision day itself does not count, whether or not it is a working day. A Series keeps its index; a
    single date gives a Timestamp; anything else a datetime64[ns] array.
    """
    if working_days < 1:
        raise ValueError(f"working_days must be at least 1, got {working_days}")
    table = _table()
    days = _days(decision_dates)
    position, usable = _positions(days, errors)
    target = table.ordinal[position] + working_days  # ordinal of the deadline
    beyond = usable & (target > len(table.working_days))
    _refuse_uncovered(days[beyond], errors, what="decision dates have their deadline")
    found = usable & ~beyond
    deadline = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[D]")
    deadline[found] = table.working_days[target[found] - 1]
    return _shaped_dates(deadline, decision_dates)


@overload
def working_days_between(start: DateScalar, end: DateScalar, *, errors: Errors = "raise") -> float: ...
@overload
def working_days_between(start: DateScalar | DateArray, end: DateArray, *,
                         errors: Errors = "raise") -> np.ndarray: ...
@overload
def working_days_between(start: DateArray, end: DateScalar | DateArray, *,
                         errors: Errors = "raise") -> np.ndarray: ...
def working_days_between(start: DateScalar | DateArray, end: DateScalar | DateArray, *,
                         errors: Errors = "raise") -> float | np.ndarray:
    """Working days after ``start`` up to and including ``end`` (negative when ``end`` is earlier).

    ``working_days_between(d, publication_deadline(d)) == 7``. Float, so that a missing or coerced date is NaN.
    """
    start_days, end_days = np.broadcast_arrays(_days(start), _days(end))
    start_position, start_usable = _positions(start_days, errors)
    end_position, end_usable = _positions(end_days, errors)
    table = _table()
    counts = (table.ordinal[end_position] - table.ordinal[start_position]).astype(np.float64)
    counts[~(start_usable & end_usable)] = np.nan
    return float(counts[0]) if _is_single(start) and _is_single(end) else counts
