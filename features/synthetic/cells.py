"""Raw cells as the feeds carry them: every value a string, empty string = missing.

Formatting millions of numbers and dates one by one in Python is the slow part of a region, so these helpers
work on whole columns with Arrow kernels (numbers) or per distinct value (dates).
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Cells: TypeAlias = pa.Array  # a column of strings, one per raw row


_FRACTIONS = {decimals: pa.array([f"{k:0{decimals}d}" for k in range(10**decimals)], pa.string())
              for decimals in (1, 2)}


def money(values: np.ndarray, decimals: int = 2) -> Cells:
    """Non-negative amounts with ``decimals`` (1 or 2) digits after the decimal point ("1234.50"); NaN → ""."""
    values = np.asarray(values, dtype=float)
    missing = np.isnan(values)
    scale = 10**decimals
    units = np.rint(np.where(missing, 0.0, values) * scale).astype(np.int64)
    whole = pc.cast(pa.array(units // scale), pa.string())
    fraction = _FRACTIONS[decimals].take(pa.array(units % scale))
    text = pc.binary_join_element_wise(whole, fraction, ".")
    return pc.if_else(pa.array(missing), "", text) if missing.any() else text


def count(values: np.ndarray) -> Cells:
    """Whole numbers (people, days) as integers ("12")."""
    return pc.cast(pa.array(np.asarray(values).astype(np.int64)), pa.string())


def dates(values: np.ndarray, missing: np.ndarray | None = None) -> Cells:
    """Days as YYYY-MM-DD, each distinct day formatted once; rows in ``missing`` become ""."""
    days = np.asarray(values).astype("datetime64[D]").astype(np.int64)
    if missing is not None:
        days = np.where(missing, days[~missing].min(initial=0), days)
    if not len(days):
        return pa.array([], pa.string())
    first = int(days.min())
    labels = np.arange(first, int(days.max()) + 1).astype("datetime64[D]").astype(str).astype(object)
    text = pa.array(labels, pa.string()).take(pa.array(days - first))
    return pc.if_else(pa.array(missing), "", text) if missing is not None and missing.any() else text


def take(labels: np.ndarray, index: np.ndarray) -> Cells:
    """``labels[index]`` for a few distinct labels repeated over many rows (codes, periods, kinds)."""
    return pa.array(np.asarray(labels, dtype=object), pa.string()).take(pa.array(np.asarray(index, dtype=np.int64)))


def text(values: np.ndarray | list[str] | str, size: int | None = None) -> Cells:
    """Strings as they are; a single string repeated ``size`` times."""
    if isinstance(values, str):
        return pa.array(np.full(size or 0, values, dtype=object), pa.string())
    return pa.array(np.asarray(values, dtype=object), pa.string())


def table(columns: dict[str, Cells]) -> pa.Table:
    """A raw table from string columns, in the given (canonical) order."""
    return pa.table({name: column.cast(pa.string()) for name, column in columns.items()})
