"""Raw cells as the checks see them: Arrow columns (strings, dictionary-encoded strings, or typed from Parquet),
parsers, per-row verdicts.

Empty string or null = missing (docs/data-sources.md). Everything is vectorised with Arrow kernels or numpy;
codes, USCCs and dates arrive dictionary-encoded from CSV and Parquet text (``features.feeds``) and are judged
once per distinct value (a monthly file has few), and messages are built only for the rows that are rejected,
so a chunk of a million rows is checked in well under a second.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

Describe = Callable[[np.ndarray], list[str]]
DATE_SHAPE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
PERIOD_SHAPE = r"^[0-9]{4}-[0-9]{2}$"
YEAR_SHAPE = r"^[0-9]{4}$"
NUMBER_SHAPE = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
TIMESTAMP = pa.timestamp("ns")


class Verdicts:
    """Per-row first failure: field, rule and message, filled in as the checks run in rule order."""

    def __init__(self, n_rows: int) -> None:
        self.failed = np.zeros(n_rows, dtype=bool)
        self.field = np.full(n_rows, None, dtype=object)
        self.rule = np.full(n_rows, None, dtype=object)
        self.message = np.full(n_rows, None, dtype=object)

    def reject(self, mask: np.ndarray, field: str, rule: str, message: str | Describe) -> None:
        """Mark rows in ``mask`` not yet rejected; a ``Describe`` builds messages for just those positions."""
        new = mask & ~self.failed
        if not new.any():
            return
        positions = np.flatnonzero(new)
        self.failed[positions] = True
        self.field[positions] = field
        self.rule[positions] = rule
        if isinstance(message, str):
            self.message[positions] = message
        else:
            self.message[positions] = np.array(message(positions), dtype=object)


def to_bool(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow boolean array as numpy, null read as False."""
    return np.asarray(array.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def is_text(array: pa.Array) -> bool:
    return pa.types.is_string(array.type) or pa.types.is_large_string(array.type)


def is_dictionary(array: pa.Array) -> bool:
    """A dictionary-encoded column (Parquet text columns of codes and dates are read this way)."""
    return pa.types.is_dictionary(array.type)


def _string_form(array: pa.Array) -> pa.Array:
    """Any plain column as strings, nulls kept (typed Parquet cells in their ISO or decimal form)."""
    if is_text(array):
        return array
    if pa.types.is_timestamp(array.type) or pa.types.is_date(array.type):
        return pc.strftime(pc.cast(array, TIMESTAMP), format="%Y-%m-%d")
    return pc.cast(array, pa.string())


class RawColumns:
    """A chunk's columns with each one's missing-cell mask and string form computed at most once.

    A dictionary-encoded column is checked once per distinct value (``distinct``, ``per_value``) and its
    strings are only materialised for the rows that are quarantined.
    """

    def __init__(self, columns: Mapping[str, pa.Array]) -> None:
        self.columns = dict(columns)
        self._present: dict[str, np.ndarray] = {}
        self._text: dict[str, pa.Array] = {}
        self._distinct: dict[str, tuple[pa.Array, np.ndarray]] = {}
        self.n_rows = len(next(iter(self.columns.values()))) if self.columns else 0

    def arrow(self, name: str) -> pa.Array:
        return self.columns[name]

    def is_dictionary(self, name: str) -> bool:
        return is_dictionary(self.columns[name])

    def text(self, name: str) -> pa.Array:
        """The column as strings, missing cells as "" (decodes a dictionary column: avoid on the hot path)."""
        if name not in self._text:
            array = self.columns[name]
            if is_dictionary(array):
                values, rows = self.distinct(name)
                array = values.take(pa.array(rows, pa.int32()))
            self._text[name] = _string_form(array).fill_null("")
        return self._text[name]

    def distinct(self, name: str) -> tuple[pa.Array, np.ndarray]:
        """(distinct strings, each row's position among them); a null cell points at an appended "".

        Free for a dictionary column; a plain one is hashed once (``pc.dictionary_encode``).
        """
        if name not in self._distinct:
            array = self.columns[name]
            if not is_dictionary(array):
                array = pc.dictionary_encode(_string_form(array))
            values = _string_form(array.dictionary).fill_null("")
            rows = pc.fill_null(array.indices, len(values)).to_numpy(zero_copy_only=False).astype(np.int32)
            self._distinct[name] = (pa.concat_arrays([values, pa.array([""], values.type)]), rows)
        return self._distinct[name]

    def per_value(self, name: str, compute: Callable[[pa.Array], np.ndarray]) -> np.ndarray:
        """``compute`` over the column's strings (missing = ""), run once per distinct value when the column is
        dictionary-encoded and broadcast to the rows, or over every cell otherwise."""
        if self.is_dictionary(name):
            values, rows = self.distinct(name)
            return np.asarray(compute(values))[rows]
        return np.asarray(compute(self.text(name)))

    def is_in(self, name: str, allowed: Sequence[str]) -> np.ndarray:
        """True where the cell is one of ``allowed``."""
        value_set = pa.array(list(allowed), pa.string())
        return self.per_value(name, lambda values: to_bool(pc.is_in(values, value_set=value_set)))

    def present(self, name: str) -> np.ndarray:
        """True where the cell is not empty (empty string or null = missing)."""
        if name not in self._present:
            array = self.columns[name]
            if is_dictionary(array):
                self._present[name] = self.per_value(name, lambda values: non_empty(values))
            elif isinstance(array, pa.StringArray):
                present = non_empty(array)
                self._present[name] = present & to_bool(pc.is_valid(array)) if array.null_count else present
            else:
                valid = pc.is_valid(array)
                self._present[name] = to_bool(pc.and_(valid, pc.not_equal(array, "")) if is_text(array) else valid)
        return self._present[name]

    def text_at(self, name: str, rows: np.ndarray) -> pa.Array:
        """The raw cells of ``name`` at ``rows`` as strings, missing as "" (for the quarantine)."""
        take = pa.array(rows, pa.int64())
        if name in self._text or not self.is_dictionary(name):
            return self.text(name).take(take)
        return _string_form(self.columns[name].take(take).dictionary_decode()).fill_null("")

    def cells(self, name: str, rows: np.ndarray) -> list[str]:
        """The raw cells of ``name`` at ``rows`` as Python strings (for messages and the quarantine)."""
        return [str(v) for v in self.text_at(name, rows).to_pylist()]


def non_empty(array: pa.Array) -> np.ndarray:
    """Positive length, read off a string array's offsets (nulls are not checked here)."""
    if not isinstance(array, pa.StringArray):
        return to_bool(pc.greater(pc.binary_length(array), 0))
    _, offsets, _ = array.buffers()
    return np.diff(np.frombuffer(offsets, dtype=np.int32, count=len(array) + 1, offset=array.offset * 4)) > 0


def describe(raw: RawColumns, *parts: str | tuple[str, bool]) -> Describe:
    """Messages made of literal text and raw cells ``(column, quoted)``, built only for rejected rows."""
    def build(rows: np.ndarray) -> list[str]:
        pieces: list[list[str]] = []
        for part in parts:
            if isinstance(part, tuple):
                column, quoted = part
                cells = raw.cells(column, rows)
                pieces.append([f"'{c}'" if quoted else c for c in cells])
            else:
                pieces.append([part] * len(rows))
        return ["".join(row) for row in zip(*pieces, strict=True)]
    return build


def lookup(raw: RawColumns, column: str, messages: Mapping[str, str]) -> Describe:
    """Messages looked up by the raw value of ``column`` (one per distinct code)."""
    def build(rows: np.ndarray) -> list[str]:
        return [messages[c] for c in raw.cells(column, rows)]
    return build


def regex_match(array: pa.Array, pattern: str) -> np.ndarray:
    """Full match of every string against ``pattern`` with Arrow's RE2 kernel."""
    return to_bool(pc.match_substring_regex(array, pattern))


_SHAPES = {"date": (DATE_SHAPE, "%Y-%m-%d"), "period": (PERIOD_SHAPE, "%Y-%m"), "year": (YEAR_SHAPE, "%Y")}


def parse_dates(raw: RawColumns, name: str, shape: str) -> tuple[np.ndarray, np.ndarray]:
    """Dates, months (first day) or years (1 January) as datetime64[ns]; NaT where missing or malformed.

    Returns (values, malformed non-empty cells). Strings are parsed once per distinct value with pandas, which
    also rejects impossible days such as 2019-02-30; Parquet date and timestamp cells are taken as they are.
    """
    array = raw.arrow(name)
    present = raw.present(name)
    if pa.types.is_timestamp(array.type) or pa.types.is_date(array.type):
        values = pc.cast(array, TIMESTAMP).to_numpy(zero_copy_only=False).astype("datetime64[ns]")
        if shape == "period":
            values = values.astype("datetime64[M]").astype("datetime64[ns]")
        elif shape == "year":
            values = values.astype("datetime64[Y]").astype("datetime64[ns]")
        return values, np.zeros(len(values), dtype=bool)
    pattern, fmt = _SHAPES[shape]
    uniques, rows = raw.distinct(name)
    candidates = pd.Series(uniques.to_pylist(), dtype=object).where(regex_match(uniques, pattern))
    parsed = pd.to_datetime(candidates, format=fmt, errors="coerce").astype("datetime64[ns]").to_numpy()
    values = parsed[rows]
    return values, present & np.isnat(values)


_NUMBER_ALPHABET = b"0123456789+-.eE"
_NUMBER_CHARS = np.zeros(256, dtype=bool)
_NUMBER_CHARS[np.frombuffer(_NUMBER_ALPHABET, dtype=np.uint8)] = True


def parse_numbers(raw: RawColumns, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Decimal numbers as float64 (NaN where missing or malformed) and a mask of malformed non-empty cells.

    A cell is a number when it matches ``NUMBER_SHAPE``. The fast path needs no regular expression: a cell with
    a character outside ``0-9 + - . e E`` is malformed, and Arrow's float parser accepts exactly the cells of
    that alphabet that match the shape (tests/features/test_ingest_cells.py enumerates them), so when it parses
    every remaining cell those are the numbers; when it refuses one, the column takes the regex path.
    """
    array = raw.arrow(name)
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type) or pa.types.is_decimal(array.type):
        values = pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False).astype("float64")
        return values, np.zeros(len(values), dtype=bool)
    text = raw.text(name)
    present = raw.present(name)
    fast = _plain_numbers(text, present)
    if fast is not None:
        return fast
    shaped = pc.match_substring_regex(text, NUMBER_SHAPE)
    numbers = pc.cast(pc.if_else(shaped, text, pa.scalar(None, pa.string())), pa.float64())
    values = np.asarray(numbers.to_numpy(zero_copy_only=False), dtype="float64")
    return values, present & ~to_bool(shaped)


def _plain_numbers(text: pa.Array, present: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The fast path of ``parse_numbers``, or None when a cell of the number alphabet does not parse."""
    if not pa.types.is_string(text.type) or len(text) == 0:
        return None
    _, offsets_buffer, data_buffer = text.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32, count=len(text) + 1, offset=text.offset * 4)
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.empty(0, np.uint8)
    span = data[offsets[0]:offsets[-1]]
    foreign = np.zeros(len(text), dtype=bool)
    if len(span) and span.tobytes().translate(None, _NUMBER_ALPHABET):  # some cell has another character
        starts = np.minimum(offsets[:-1] - offsets[0], len(span) - 1)
        foreign = np.logical_or.reduceat(~_NUMBER_CHARS[span], starts) & (np.diff(offsets) > 0)
    candidates = present & ~foreign
    validity = pa.py_buffer(np.packbits(candidates, bitorder="little"))
    masked = pa.StringArray.from_buffers(len(text), pa.py_buffer(offsets), data_buffer, validity)
    try:
        numbers = pc.cast(masked, pa.float64())
    except pa.ArrowInvalid:
        return None
    values = np.asarray(numbers.to_numpy(zero_copy_only=False), dtype="float64")
    return values, present & foreign
