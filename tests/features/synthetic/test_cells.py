"""Cells: numbers and dates written as a feed writes them, whole columns at a time."""

from __future__ import annotations

import numpy as np

from features.synthetic import cells


def test_money_has_a_decimal_point_and_missing_is_empty() -> None:
    values = np.array([0.0, 1234.5, 0.004, 0.016, 98765432.1, np.nan])
    assert cells.money(values).to_pylist() == ["0.00", "1234.50", "0.00", "0.02", "98765432.10", ""]
    assert cells.money(np.array([12.25, 3.0]), decimals=1).to_pylist() == ["12.2", "3.0"]


def test_counts_are_whole_numbers() -> None:
    assert cells.count(np.array([1.0, 12.0, 300.0])).to_pylist() == ["1", "12", "300"]


def test_dates_are_iso_days_and_missing_is_empty() -> None:
    days = np.array(["2024-02-29", "2026-10-31", "2024-02-29", "1999-01-01"], dtype="datetime64[D]")
    missing = np.array([False, False, False, True])
    assert cells.dates(days, missing).to_pylist() == ["2024-02-29", "2026-10-31", "2024-02-29", ""]
    assert cells.dates(np.array([], dtype="datetime64[D]")).to_pylist() == []


def test_take_repeats_labels() -> None:
    assert cells.take(np.array(["2024-01", "2024-02"]), np.array([1, 0, 1])).to_pylist() == [
        "2024-02", "2024-01", "2024-02"]
