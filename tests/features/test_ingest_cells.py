"""Number parsing: the fast path (character check + Arrow's float parser) against the shape it stands for."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pyarrow as pa
import pytest

from features.ingest_cells import NUMBER_SHAPE, RawColumns, parse_numbers

SHAPE = re.compile(NUMBER_SHAPE)


def _expected(cells: list[str | None]) -> tuple[list[float], list[bool]]:
    values = [float(c) if c and SHAPE.match(c) else float("nan") for c in cells]
    return values, [c is not None and c != "" and not SHAPE.match(c) for c in cells]


def _parse(cells: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    return parse_numbers(RawColumns({"x": pa.array(cells, pa.string())}), "x")


def test_every_short_string_of_the_number_alphabet_parses_as_the_shape_says() -> None:
    """Every cell of up to four characters from 0 1 + - . e E: number or malformed exactly as NUMBER_SHAPE says
    (these are the cells the fast path hands to Arrow's float parser)."""
    cells = ["".join(p) for n in range(1, 5) for p in itertools.product("01+-.eE", repeat=n)]
    shaped = [c for c in cells if SHAPE.match(c)]
    assert 50 < len(shaped) < len(cells) / 2
    for cell in cells:
        values, malformed = _parse(["1", cell, ""])
        expected_values, expected_malformed = _expected(["1", cell, ""])
        np.testing.assert_array_equal(values, expected_values, err_msg=cell)
        assert malformed.tolist() == expected_malformed, cell


@pytest.mark.parametrize("cells", [
    ["12.5", "", None, "-3e2", "+.5", "7."],  # all numbers: fast path
    ["12.5", "1,000", "N/A", "inf", "nan", " 1", "1 ", "١٢", "0x1F", "-", "1e", "", None, "5"],
    ["1.2.3", "4", ""],  # in the alphabet yet malformed: the regex path
])
def test_mixed_columns_match_the_shape(cells: list[str | None]) -> None:
    values, malformed = _parse(cells)
    expected_values, expected_malformed = _expected(cells)
    np.testing.assert_array_equal(values, expected_values)
    assert malformed.tolist() == expected_malformed


def test_a_sliced_column_is_read_from_its_own_offset() -> None:
    column = pa.array(["x", "1", "2.5", "bad", "3"], pa.string()).slice(1, 3)
    values, malformed = parse_numbers(RawColumns({"x": column}), "x")
    np.testing.assert_array_equal(values, [1.0, 2.5, np.nan])
    assert malformed.tolist() == [False, False, True]
